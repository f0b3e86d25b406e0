// Reference decoder for the differential test of bundlefs's core against
// Go's encoding/json itself (standard library only).
//
// Input on stdin: records, each a 4-byte big-endian length and that many
// bytes. Output: one line per record,
//
//	S:<ok> G:<hex> B:<ok>:<hex>
//
// S: containerd's remappedGID decoding (SPEC 5.2): "1:<gid>" when accepted
// (the hostID of the first mapping with containerID 0, else 0), "0" when
// rejected; a top-level null is rejected as SPEC 5.2 adds.
// G: the group of SPEC 7.2 for the bundle id "ID", as the runc v2 shim
// looks it up (the id when Unmarshal fails), hex-encoded.
// B: bootstrap.json's address: "1:<hex>" when the input is a JSON object
// whose "address" decoded to a string, else "0".
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
		fmt.Fprintf(out, "S:%s G:%s B:%s\n", spec(data), group(data, "ID"), boot(data))
	}
}
