// Command nodenet is the default pod network of the project's kind clusters
// (the role kindnetd plays in stock kind images, which cannot be built here).
//
// It runs on every node (DaemonSet, host network) and, every few seconds:
//   - writes a CNI configuration giving local pods addresses from the node's
//     spec.podCIDR (ptp links plus host-local IPAM, and portmap), which is
//     what makes the node Ready;
//   - routes every other node's pod CIDR via that node's InternalIP;
//   - masquerades traffic from local pods to destinations outside the
//     cluster's pod subnet (an nftables table of its own).
//
// Only the standard library is used: the API is read with the pod's service
// account over HTTPS, routes and rules are set with the `ip` and `nft` tools.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

type node struct{ name, cidr, ip string }

type agent struct {
	client    *http.Client
	server    string
	self      string
	podSubnet string
	confPath  string
	lastConf  []byte
	lastNft   string
	routes    map[string]string
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newAgent() (*agent, error) {
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	// kind passes the API server's address inside the Docker network, so the
	// agent does not depend on kube-proxy (which needs a working node first).
	server := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if server == "" {
		server = net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	}
	a := &agent{
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		},
		server:    "https://" + strings.TrimPrefix(server, "https://"),
		self:      os.Getenv("NODE_NAME"),
		podSubnet: getenv("POD_SUBNET", "10.244.0.0/16"),
		confPath:  filepath.Join(getenv("CNI_CONF_DIR", "/etc/cni/net.d"), "10-nodenet.conflist"),
		routes:    map[string]string{},
	}
	if a.self == "" {
		return nil, fmt.Errorf("NODE_NAME is not set")
	}
	return a, nil
}

func (a *agent) nodes() ([]node, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest("GET", a.server+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("listing nodes: %s", resp.Status)
	}
	var list nodeList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	var out []node
	for _, item := range list.Items {
		n := node{name: item.Metadata.Name, cidr: item.Spec.PodCIDR}
		for _, c := range item.Spec.PodCIDRs { // prefer the IPv4 range
			if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
				n.cidr = c
				break
			}
		}
		for _, addr := range item.Status.Addresses {
			if addr.Type == "InternalIP" && net.ParseIP(addr.Address).To4() != nil {
				n.ip = addr.Address
				break
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func run(name string, args []string, stdin string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (a *agent) writeConf(cidr string) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "nodenet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": cidr}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, _ := json.MarshalIndent(conf, "", "  ")
	if bytes.Equal(data, a.lastConf) {
		return nil
	}
	tmp := a.confPath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.confPath); err != nil {
		return err
	}
	a.lastConf = data
	log.Printf("wrote %s for pod range %s", a.confPath, cidr)
	return nil
}

func (a *agent) masquerade(cidr string) error {
	rules := fmt.Sprintf(`add table ip nodenet
delete table ip nodenet
table ip nodenet {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr %s ip daddr != %s masquerade
  }
}
`, cidr, a.podSubnet)
	if rules == a.lastNft {
		return nil
	}
	if err := run("nft", []string{"-f", "-"}, rules); err != nil {
		return err
	}
	a.lastNft = rules
	log.Printf("masquerading %s -> outside %s", cidr, a.podSubnet)
	return nil
}

func (a *agent) sync() error {
	nodes, err := a.nodes()
	if err != nil {
		return err
	}
	var errs []string
	for _, n := range nodes {
		if n.cidr == "" {
			continue
		}
		if n.name == a.self {
			if err := a.writeConf(n.cidr); err != nil {
				errs = append(errs, err.Error())
			}
			if err := a.masquerade(n.cidr); err != nil {
				errs = append(errs, err.Error())
			}
			continue
		}
		if n.ip == "" || a.routes[n.cidr] == n.ip {
			continue
		}
		if err := run("ip", []string{"route", "replace", n.cidr, "via", n.ip}, ""); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		a.routes[n.cidr] = n.ip
		log.Printf("route %s via %s (%s)", n.cidr, n.ip, n.name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	a, err := newAgent()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("nodenet on %s, API %s, pod subnet %s", a.self, a.server, a.podSubnet)
	interval := 10 * time.Second
	for {
		if err := a.sync(); err != nil {
			log.Printf("sync: %v", err)
			time.Sleep(2 * time.Second)
			continue
		}
		time.Sleep(interval)
	}
}
