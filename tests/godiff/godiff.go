// Reference decoder for the differential test of bundlefs's core against
// Go's encoding/json itself (standard library only).
//
// Input on stdin: records, each a 4-byte big-endian length and that many
// bytes. Output: one line per record,
//
//	S:<ok> G:<hex> B:<ok>:<hex> A:<ok>[:<name>]...
//
// S: containerd's remappedGID decoding (SPEC 5.2): "1:<gid>" when accepted
// (the hostID of the first mapping with containerID 0, else 0), "0" when
// rejected; a top-level null is rejected as SPEC 5.2 adds.
// G: the group of SPEC 7.2 for the bundle id "ID", as the runc v2 shim
// looks it up (the id when Unmarshal fails), hex-encoded.
// B: bootstrap.json's address: "1:<hex>" when the input is a JSON object
// whose "address" decoded to a string, else "0".
// A: the CRI pod annotations of SPEC 8.3 with the shim's decoding: "0" when
// Unmarshal fails, else "1" and, for each name of podLabels in order, ":-"
// when the map lacks it or ":=<hex>" with its value.
//
// With the argument "bootstrap23" it instead prints containerd 2.3's
// bootstrap.json for a set of shim results, one line each:
// <hex of the file>\t<hex of the address it holds, or "-" for none>.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// specs.LinuxIDMapping
type linuxIDMapping struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// containerd's remappedGID: ociSpecUserNS
type ociSpecUserNS struct {
	Linux *struct {
		GIDMappings []linuxIDMapping
	}
}

// the runc v2 shim's spec
type shimSpec struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

var groupLabels = []string{"io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"}

// The annotations that name a pod and its containers (SPEC 8.3).
var podLabels = []string{"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name",
	"io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.container-type",
	"io.kubernetes.cri.container-name"}

// A string that remembers whether a non-null value was decoded into it.
type optString struct {
	set bool
	s   string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.set, o.s = true, s
	return nil
}

type bootstrap struct {
	Address optString `json:"address"`
}

// containerd 2.3 writes bootstrap.json with encoding/json's Marshal of a
// *bootapi.BootstrapResult (core/runtime/v2/shim.go writeBootstrapParams):
// the struct that protoc-gen-go makes of api/runtime/bootstrap/v1's
// message, whose json tags leave out every field with an empty value.
// Capability is a protobuf enum: an int32, written as a number.
type capability int32

type bootstrapResult struct {
	Version      int32             `json:"version,omitempty"`
	Address      string            `json:"address,omitempty"`
	Protocol     string            `json:"protocol,omitempty"`
	Capabilities []capability      `json:"capabilities,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// What the runc v2 shim (pkg/shim, cmd/containerd-shim-runc-v2) and shims to
// come may return: version 3, ttrpc, and what the new fields can hold.
var bootstrap23 = []bootstrapResult{
	{Version: 3, Address: "unix:///run/containerd/s/" +
		"e4255c28c795a692f252b1e1601b5fa0bf42d291df05cb500608f316d4f8ba3b", Protocol: "ttrpc"},
	{Version: 3, Address: "unix:///run/containerd/s/abc", Protocol: "ttrpc",
		Capabilities: []capability{0}, Metadata: map[string]string{"k": "v"}},
	{Version: 3, Address: "unix:///run/containerd/s/this", Protocol: "ttrpc",
		Metadata: map[string]string{"address": "unix:///not/this", "z": "", "a": "1"}},
	{Version: 3, Protocol: "ttrpc"},
	{},
	{Address: "unix:///run/containerd/s/v0", Protocol: "ttrpc"},
	{Version: 3, Address: "vsock://3:1024", Protocol: "grpc", Capabilities: []capability{0, 7}},
	{Version: 2, Address: "unix:///run/containerd/s/a&b<c>", Protocol: "ttrpc",
		Metadata: map[string]string{"<&>": "\u2028\"\\", "\x00": "\xff"}},
	{Version: 3, Address: "unix:///run/containerd/s/caps", Capabilities: []capability{}},
}

func printBootstrap23(out *bufio.Writer) {
	for _, r := range bootstrap23 {
		data, err := json.Marshal(&r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "godiff:", err)
			os.Exit(2)
		}
		want := "-"
		if r.Address != "" {
			want = hex.EncodeToString([]byte(r.Address))
		}
		fmt.Fprintf(out, "%s\t%s\n", hex.EncodeToString(data), want)
	}
}

func isObject(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

func spec(data []byte) string {
	var s ociSpecUserNS
	if err := json.Unmarshal(data, &s); err != nil {
		return "0"
	}
	if string(bytes.Trim(data, " \t\r\n")) == "null" {
		return "0"
	}
	gid := uint32(0)
	if s.Linux != nil {
		for _, m := range s.Linux.GIDMappings {
			if m.ContainerID == 0 {
				gid = m.HostID
				break
			}
		}
	}
	return fmt.Sprintf("1:%d", gid)
}

func group(data []byte, id string) string {
	g := id
	var s shimSpec
	if err := json.Unmarshal(data, &s); err == nil {
		for _, l := range groupLabels {
			if v, ok := s.Annotations[l]; ok {
				g = v
				break
			}
		}
	}
	return hex.EncodeToString([]byte(g))
}

func pod(data []byte) string {
	var s shimSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return "0"
	}
	out := "1"
	for _, l := range podLabels {
		if v, ok := s.Annotations[l]; ok {
			out += ":=" + hex.EncodeToString([]byte(v))
		} else {
			out += ":-"
		}
	}
	return out
}

func boot(data []byte) string {
	var b bootstrap
	if err := json.Unmarshal(data, &b); err != nil || !isObject(data) || !b.Address.set {
		return "0"
	}
	return "1:" + hex.EncodeToString([]byte(b.Address.s))
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if len(os.Args) > 1 && os.Args[1] == "bootstrap23" {
		printBootstrap23(out)
		return
	}
	for {
		var n uint32
		if err := binary.Read(in, binary.BigEndian, &n); err != nil {
			if err == io.EOF {
				return
			}
			fmt.Fprintln(os.Stderr, "godiff:", err)
			os.Exit(2)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(in, data); err != nil {
			fmt.Fprintln(os.Stderr, "godiff:", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "S:%s G:%s B:%s A:%s\n", spec(data), group(data, "ID"), boot(data),
			pod(data))
	}
}
