package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// k8sDir holds the Kubernetes manifests, one object per file.
const k8sDir = "k8s"

// manifests are the objects of k8sDir, each decoded into its API type.
type manifests struct {
	serviceAccount corev1.ServiceAccount
	configMap      corev1.ConfigMap
	deployment     appsv1.Deployment
	service        corev1.Service
	pdb            policyv1.PodDisruptionBudget
	networkPolicy  networkingv1.NetworkPolicy
	serviceMonitor monitoringv1.ServiceMonitor
}

// manifestFile is one file of k8sDir: the object it must hold.
type manifestFile struct {
	name, apiVersion, kind string
	into                   any
}

func (m *manifests) files() []manifestFile {
	return []manifestFile{
		{"serviceaccount.yaml", "v1", "ServiceAccount", &m.serviceAccount},
		{"configmap.yaml", "v1", "ConfigMap", &m.configMap},
		{"deployment.yaml", "apps/v1", "Deployment", &m.deployment},
		{"service.yaml", "v1", "Service", &m.service},
		{"pdb.yaml", "policy/v1", "PodDisruptionBudget", &m.pdb},
		{"networkpolicy.yaml", "networking.k8s.io/v1", "NetworkPolicy", &m.networkPolicy},
		{"servicemonitor.yaml", "monitoring.coreos.com/v1", "ServiceMonitor", &m.serviceMonitor},
	}
}

// decodeStrict decodes one manifest into its API type: a field the type
// does not have, a field given twice, or a value of the wrong type is an
// error, as the API server's strict field validation would make it.
func decodeStrict(doc []byte, apiVersion, kind string, into any) error {
	if bytes.Contains(doc, []byte("\n---")) || bytes.HasPrefix(doc, []byte("---")) {
		return errors.New("holds more than one YAML document: keep one object per file")
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		return fmt.Errorf("is %s %s, want %s %s", tm.APIVersion, tm.Kind, apiVersion, kind)
	}
	return yaml.UnmarshalStrict(doc, into)
}

// loadManifests decodes every file of k8sDir; a file it does not expect
// fails the test, so none goes unchecked.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	want := map[string]bool{}
	for _, f := range m.files() {
		want[f.name] = true
		doc, err := os.ReadFile(filepath.Join(k8sDir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeStrict(doc, f.apiVersion, f.kind, f.into); err != nil {
			t.Fatalf("%s/%s: %v", k8sDir, f.name, err)
		}
	}
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("%s/%s: not a manifest these tests know: add it to manifests.files", k8sDir, e.Name())
		}
	}
	return m
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	tests := map[string]string{
		"misspelled field": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n",
		"duplicate field":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: 2\n  replicas: 3\n",
		"wrong type":       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n",
		"wrong kind":       "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x\n",
		"two documents":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: Service\n",
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			var d appsv1.Deployment
			if err := decodeStrict([]byte(doc), "apps/v1", "Deployment", &d); err == nil {
				t.Errorf("decoded without an error:\n%s", doc)
			}
		})
	}
	var d appsv1.Deployment
	if err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: 2\n"), "apps/v1", "Deployment", &d); err != nil || *d.Spec.Replicas != 2 {
		t.Errorf("a good Deployment: %v, replicas %v", err, d.Spec.Replicas)
	}
}

// blockdContainer is the Deployment's one container.
func blockdContainer(t *testing.T, m *manifests) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("deployment.yaml: %d containers, want 1 (blockd)", len(cs))
	}
	return cs[0]
}

// containerPort resolves a probe's, a Service's or a NetworkPolicy's port,
// given as a number or a name, to the container's port number; 0 if the
// container has no such port.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// addrPort is the port of a host:port, 0 if it has none.
func addrPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Errorf("%q: port %q is not a number", addr, port)
	}
	return int32(n)
}

// The ports blockd listens on, as deploy/blockd.env.example names them.
const (
	probesPort   = 8080 // BLOCKD_HTTP_ADDR: /healthz, /readyz
	operatorPort = 8081 // BLOCKD_ADMIN_ADDR: the operator endpoints and /metrics
)

func TestDeploymentProbesAndPorts(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	cfg := m.configMap.Data

	if len(c.Command) != 0 || !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("deployment.yaml: command %q args %q, want the image's entrypoint with args [serve]", c.Command, c.Args)
	}
	if c.Image == "" {
		t.Error("deployment.yaml: the container has no image")
	}
	if r := m.deployment.Spec.Replicas; r == nil || *r < 2 {
		t.Error("deployment.yaml: fewer than 2 replicas: a crash or a drain would stop every command")
	}
	for name, want := range map[string]int32{"probes": probesPort, "operator": operatorPort} {
		if got := containerPort(c, intstr.FromString(name)); got != want {
			t.Errorf("deployment.yaml: container port %q is %d, want %d", name, got, want)
		}
	}
	// blockd must listen where the probes and the Service look, and not
	// on loopback, which nothing outside the pod reaches.
	for name, want := range map[string]int32{"BLOCKD_HTTP_ADDR": probesPort, "BLOCKD_ADMIN_ADDR": operatorPort} {
		addr := cfg[name]
		host, _, _ := net.SplitHostPort(addr)
		if got := addrPort(t, addr); got != want || host == "127.0.0.1" || host == "localhost" || host == "::1" {
			t.Errorf("configmap.yaml: %s=%q, want port %d on the pod's address (0.0.0.0)", name, addr, want)
		}
	}

	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("deployment.yaml: no HTTP %s", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || containerPort(c, p.probe.HTTPGet.Port) != probesPort {
			t.Errorf("deployment.yaml: %s asks %s on port %s, want %s on %d", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, probesPort)
		}
	}
	// blockd listens only after checking Kafka (retried for 30 s), the
	// topics and the migrations: the startup probe must wait longer than
	// that before the liveness probe may restart it.
	if s := c.StartupProbe; s != nil {
		if wait := time.Duration(s.PeriodSeconds*s.FailureThreshold+s.InitialDelaySeconds) * time.Second; wait < time.Minute {
			t.Errorf("deployment.yaml: the startup probe gives up after %s, want at least a minute", wait)
		}
	}
}

func TestDeploymentResourcesAndShutdown(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim {
			t.Errorf("deployment.yaml: %s request or limit not set", name)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("deployment.yaml: %s request %s above its limit %s", name, req.String(), lim.String())
		}
	}
	// README.md, "Throughput": 130-142 MB RSS at 4,000 commands/s; a limit
	// below that kills blockd under load.
	if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("160Mi")) < 0 {
		t.Errorf("deployment.yaml: memory limit %s, below the measured peak RSS (142 MB) with headroom", lim.String())
	}

	// SIGTERM: BLOCKD_SHUTDOWN_GRACE for in-flight commands, then as long
	// again for the outbox flush, before the kubelet's SIGKILL.
	grace := 20 * time.Second
	if v := m.configMap.Data["BLOCKD_SHUTDOWN_GRACE"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("configmap.yaml: BLOCKD_SHUTDOWN_GRACE=%q: %v", v, err)
		}
		grace = d
	}
	var tg int64 = 30 // Kubernetes's default
	if v := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; v != nil {
		tg = *v
	}
	if time.Duration(tg)*time.Second <= 2*grace {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds %d, want more than twice BLOCKD_SHUTDOWN_GRACE (%s)", tg, grace)
	}
}

func TestDeploymentRunsLocked(t *testing.T) {
	m := loadManifests(t)
	pod := m.deployment.Spec.Template.Spec
	c := blockdContainer(t, m)
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("deployment.yaml: the pod or the container has no securityContext")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("deployment.yaml: the pod is not runAsNonRoot")
	}
	for _, uid := range []*int64{psc.RunAsUser, csc.RunAsUser} {
		if uid != nil && *uid == 0 {
			t.Error("deployment.yaml: runAsUser 0 (root)")
		}
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("deployment.yaml: the root filesystem is writable")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("deployment.yaml: allowPrivilegeEscalation is not false")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Error("deployment.yaml: privileged")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("deployment.yaml: capabilities %+v, want drop [ALL] and none added", csc.Capabilities)
	}
	seccomp := psc.SeccompProfile
	if csc.SeccompProfile != nil {
		seccomp = csc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("deployment.yaml: seccomp profile %+v, want RuntimeDefault", seccomp)
	}
	if pod.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("deployment.yaml: serviceAccountName %q, serviceaccount.yaml names %q", pod.ServiceAccountName, m.serviceAccount.Name)
	}
	// blockd calls no Kubernetes API: no token in the pod.
	for file, v := range map[string]*bool{"serviceaccount.yaml": m.serviceAccount.AutomountServiceAccountToken, "deployment.yaml": pod.AutomountServiceAccountToken} {
		if v == nil || *v {
			t.Errorf("%s: automountServiceAccountToken is not false", file)
		}
	}
}

// secretVolume is the Deployment's volume of the Secret and where it is
// mounted.
func secretVolume(t *testing.T, m *manifests) (*corev1.SecretVolumeSource, string) {
	t.Helper()
	c := blockdContainer(t, m)
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				if !vm.ReadOnly {
					t.Errorf("deployment.yaml: the secrets volume is mounted writable")
				}
				return v.Secret, vm.MountPath
			}
		}
	}
	t.Fatal("deployment.yaml: no Secret volume mounted in the container")
	return nil, ""
}

func TestDeploymentConfigurationAndSecrets(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	env := map[string]string{}
	for k, v := range m.configMap.Data {
		env[k] = v
	}
	if len(m.configMap.BinaryData) > 0 {
		t.Error("configmap.yaml: binaryData: settings are text")
	}

	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == m.configMap.Name
	}) {
		t.Errorf("deployment.yaml: no envFrom of the ConfigMap %q", m.configMap.Name)
	}
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil {
			t.Errorf("deployment.yaml: envFrom the Secret %q puts every secret into the environment: mount it as files", e.SecretRef.Name)
		}
	}

	vol, mountPath := secretVolume(t, m)
	// Settings are in the ConfigMap; the container's own env holds only
	// references: a secret by secretKeyRef, or a field of the pod.
	for _, e := range c.Env {
		switch {
		case e.Value != "" || e.ValueFrom == nil:
			t.Errorf("deployment.yaml: env %s has a value in the manifest: put a setting in configmap.yaml, a secret in the Secret", e.Name)
		case e.ValueFrom.SecretKeyRef != nil:
			if e.ValueFrom.SecretKeyRef.Name != vol.SecretName {
				t.Errorf("deployment.yaml: env %s refers to the Secret %q, not %q", e.Name, e.ValueFrom.SecretKeyRef.Name, vol.SecretName)
			}
		case e.ValueFrom.FieldRef == nil && e.ValueFrom.ResourceFieldRef == nil:
			t.Errorf("deployment.yaml: env %s comes from neither a Secret nor the pod", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			t.Errorf("deployment.yaml: env %s is also in configmap.yaml", e.Name)
		}
		env[e.Name] = "(from " + vol.SecretName + ")"
	}
	checkServeVariables(t, "configmap.yaml and deployment.yaml", env)

	// Every file the configuration names is a key of the Secret, mounted;
	// every key mounted is named.
	files := map[string]bool{}
	for _, it := range vol.Items {
		files[path.Join(mountPath, it.Path)] = false
	}
	if len(vol.Items) == 0 {
		t.Error("deployment.yaml: the Secret volume lists no items: list every key, so that a missing one stops the pod")
	}
	use := func(from, p string) {
		if _, ok := files[p]; !ok {
			t.Errorf("%s: %s is not a file of the Secret volume (mounted at %s)", from, p, mountPath)
		}
		files[p] = true
	}
	for name, v := range m.configMap.Data {
		if strings.HasSuffix(name, "_FILE") || strings.HasSuffix(name, "_FILES") {
			for _, p := range strings.Split(v, ",") {
				use("configmap.yaml "+name, strings.TrimSpace(p))
			}
		}
	}
	dbURL, err := url.Parse(m.configMap.Data["BLOCKD_DATABASE_URL"])
	if err != nil {
		t.Fatalf("configmap.yaml: BLOCKD_DATABASE_URL: %v", err)
	}
	if _, hasPassword := dbURL.User.Password(); hasPassword {
		t.Error("configmap.yaml: BLOCKD_DATABASE_URL holds a password: it is a secret")
	}
	for _, param := range []string{"sslrootcert", "sslcert", "sslkey", "passfile"} {
		if p := dbURL.Query().Get(param); p != "" {
			use("configmap.yaml BLOCKD_DATABASE_URL "+param, p)
		}
	}
	for p, used := range files {
		if !used {
			t.Errorf("deployment.yaml: the Secret's file %s is mounted but no variable names it", p)
		}
	}
	for name := range m.configMap.Data {
		if !strings.HasPrefix(name, "BLOCKD_") {
			t.Errorf("configmap.yaml: %s is not a BLOCKD_* variable", name)
		}
	}
}

// podLabels are the labels of the Deployment's pods.
func podLabels(m *manifests) labels.Set { return m.deployment.Spec.Template.Labels }

func selects(t *testing.T, file string, sel *metav1.LabelSelector, pods labels.Set) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		t.Errorf("%s: the selector is empty: it would select every pod", file)
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: selector: %v", file, err)
		return
	}
	if !s.Matches(pods) {
		t.Errorf("%s: selector %s does not select blockd's pods (labels %v)", file, s, pods)
	}
}

func TestSelectorsMatchThePods(t *testing.T) {
	m := loadManifests(t)
	pods := podLabels(m)
	selects(t, "deployment.yaml spec.selector", m.deployment.Spec.Selector, pods)
	selects(t, "pdb.yaml", m.pdb.Spec.Selector, pods)
	selects(t, "networkpolicy.yaml podSelector", &m.networkPolicy.Spec.PodSelector, pods)
	if len(m.service.Spec.Selector) == 0 || !labels.SelectorFromSet(m.service.Spec.Selector).Matches(pods) {
		t.Errorf("service.yaml: selector %v does not select blockd's pods (labels %v)", m.service.Spec.Selector, pods)
	}
	selects(t, "servicemonitor.yaml", &m.serviceMonitor.Spec.Selector, m.service.Labels)
}

func TestPodDisruptionBudget(t *testing.T) {
	m := loadManifests(t)
	minAvail := m.pdb.Spec.MinAvailable
	if minAvail == nil || minAvail.Type != intstr.Int || minAvail.IntVal < 1 {
		t.Fatalf("pdb.yaml: minAvailable %v, want 1", minAvail)
	}
	if m.pdb.Spec.MaxUnavailable != nil {
		t.Error("pdb.yaml: both minAvailable and maxUnavailable")
	}
	var replicas int32 = 1 // Kubernetes's default
	if r := m.deployment.Spec.Replicas; r != nil {
		replicas = *r
	}
	if minAvail.IntVal >= replicas {
		t.Errorf("pdb.yaml: minAvailable %d leaves none of the %d instances to evict: a drain would never finish", minAvail.IntVal, replicas)
	}
}

// servicePortTo is the Service's port whose target is the container port
// want.
func servicePortTo(m *manifests, c corev1.Container, want int32) *corev1.ServicePort {
	for i, p := range m.service.Spec.Ports {
		if containerPort(c, p.TargetPort) == want {
			return &m.service.Spec.Ports[i]
		}
	}
	return nil
}

func TestServicePorts(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	for _, p := range m.service.Spec.Ports {
		if containerPort(c, p.TargetPort) == 0 {
			t.Errorf("service.yaml: port %s targets %s, no port of the container", p.Name, p.TargetPort.String())
		}
	}
	for _, want := range []int32{probesPort, operatorPort} {
		if servicePortTo(m, c, want) == nil {
			t.Errorf("service.yaml: no port to the container's %d", want)
		}
	}
}

func TestServiceMonitorScrapesTheOperatorPort(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	eps := m.serviceMonitor.Spec.Endpoints
	if len(eps) != 1 {
		t.Fatalf("servicemonitor.yaml: %d endpoints, want 1", len(eps))
	}
	ep := eps[0]
	sp := servicePortTo(m, c, operatorPort)
	if sp == nil || ep.Port != sp.Name {
		t.Errorf("servicemonitor.yaml: port %q, want the Service's port to %d (the operator listener, where /metrics is)", ep.Port, operatorPort)
	}
	if ep.Path != "/metrics" {
		t.Errorf("servicemonitor.yaml: path %q, want /metrics", ep.Path)
	}
	// Prometheus scrapes with the metrics token, which opens /metrics and
	// nothing else: never the operator token.
	vol, mountPath := secretVolume(t, m)
	a := ep.Authorization
	if a == nil || a.Credentials == nil || a.Type != "" && a.Type != "Bearer" {
		t.Fatalf("servicemonitor.yaml: authorization %+v, want a Bearer token from a Secret", a)
	}
	if a.Credentials.Name != vol.SecretName || path.Join(mountPath, a.Credentials.Key) != m.configMap.Data["BLOCKD_METRICS_TOKEN_FILE"] {
		t.Errorf("servicemonitor.yaml: token %s/%s, want the key BLOCKD_METRICS_TOKEN_FILE (%s) is of the Secret %s",
			a.Credentials.Name, a.Credentials.Key, m.configMap.Data["BLOCKD_METRICS_TOKEN_FILE"], vol.SecretName)
	}
	if path.Join(mountPath, a.Credentials.Key) == m.configMap.Data["BLOCKD_ADMIN_TOKEN_FILE"] {
		t.Errorf("servicemonitor.yaml: Prometheus would hold the operator token, which can settle commands")
	}
}

// policyPort resolves a NetworkPolicy port (a number or a container port's
// name) to a number.
func policyPort(c corev1.Container, p networkingv1.NetworkPolicyPort) int32 {
	if p.Port == nil {
		return 0
	}
	if p.Port.Type == intstr.Int {
		return p.Port.IntVal
	}
	return containerPort(c, *p.Port)
}

func TestNetworkPolicy(t *testing.T) {
	m := loadManifests(t)
	c := blockdContainer(t, m)
	np := m.networkPolicy.Spec
	for _, want := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
		if !slices.Contains(np.PolicyTypes, want) {
			t.Errorf("networkpolicy.yaml: policyTypes %v lacks %s: that direction is open", np.PolicyTypes, want)
		}
	}

	reachable := map[int32]bool{}
	for i, r := range np.Ingress {
		if len(r.Ports) == 0 {
			t.Errorf("networkpolicy.yaml: ingress rule %d opens every port", i)
		}
		for _, p := range r.Ports {
			port := policyPort(c, p)
			reachable[port] = true
			switch port {
			case probesPort:
			case operatorPort:
				// Only from chosen namespaces: a namespace selector with
				// labels, no address block, no bare pod selector.
				if len(r.From) == 0 {
					t.Errorf("networkpolicy.yaml: the operator port %d is open to every source", port)
				}
				for _, peer := range r.From {
					if peer.IPBlock != nil || peer.NamespaceSelector == nil ||
						len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0 {
						t.Errorf("networkpolicy.yaml: the operator port %d is open to %+v, want only labelled namespaces", port, peer)
					}
				}
			default:
				t.Errorf("networkpolicy.yaml: ingress to port %d, which blockd does not serve", port)
			}
		}
	}
	for _, want := range []int32{probesPort, operatorPort} {
		if !reachable[want] {
			t.Errorf("networkpolicy.yaml: no ingress to port %d", want)
		}
	}

	// Egress: DNS, and each port blockd's configuration dials.
	type dest struct {
		port  int32
		proto corev1.Protocol
	}
	need := map[dest]string{{53, corev1.ProtocolUDP}: "DNS", {443, corev1.ProtocolTCP}: "the providers (https)"}
	for _, b := range strings.Split(m.configMap.Data["BLOCKD_KAFKA_BROKERS"], ",") {
		need[dest{addrPort(t, strings.TrimSpace(b)), corev1.ProtocolTCP}] = "Kafka " + b
	}
	dbURL, err := url.Parse(m.configMap.Data["BLOCKD_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	dbPort := int32(5432)
	if p := dbURL.Port(); p != "" {
		dbPort = addrPort(t, dbURL.Host)
	}
	need[dest{dbPort, corev1.ProtocolTCP}] = "PostgreSQL"
	open := map[dest]bool{}
	for i, r := range np.Egress {
		if len(r.Ports) == 0 {
			t.Errorf("networkpolicy.yaml: egress rule %d opens every port", i)
		}
		for _, p := range r.Ports {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			open[dest{policyPort(c, p), proto}] = true
		}
	}
	for d, what := range need {
		if !open[d] {
			t.Errorf("networkpolicy.yaml: no egress to %d/%s (%s)", d.port, d.proto, what)
		}
	}
}
