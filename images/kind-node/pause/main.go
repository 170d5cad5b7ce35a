// Command pause is the sandbox ("infra") container of every pod on the
// project's kind nodes. It holds the pod's namespaces open by doing nothing,
// reaps orphans when it is PID 1 of a shared PID namespace, and exits 0 on
// SIGINT or SIGTERM. Statically linked so it runs in an image of one file.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var version = "3.10.1"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause", version)
		return
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
