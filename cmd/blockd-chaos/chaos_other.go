//go:build !linux

package main

import "syscall"

// chaosSysProcAttr: outside Linux there is no parent-death signal; the
// chaos process stops its children on every exit path it controls.
func chaosSysProcAttr() *syscall.SysProcAttr {
	return nil
}
