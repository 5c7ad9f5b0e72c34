package main

import "syscall"

// chaosSysProcAttr puts a chaos child in its own process group (a Ctrl-C
// reaches only the chaos process, which stops the children in order) and
// has the kernel SIGKILL it should the chaos process die first, so no child
// outlives a run.
func chaosSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
