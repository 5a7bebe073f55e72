// Command go_tlog_reader checks a C2SP tiled log with Go's reference implementation
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), independently of the
// Python code that serves it.
//
// It reads the log at -log (an http(s) URL prefix, or a directory holding a mirror in the
// same path layout), and:
//
//  1. opens /checkpoint with sumdb/note and the ledger's verifier key (-key);
//  2. checks the witnesses' cosignature/v1 lines (C2SP tlog-cosignature, Ed25519, type 0x04)
//     for the -witness keys, at least -k of them (sumdb/note predates cosignatures, so this
//     one check is written here with crypto/ed25519);
//  3. builds the tree with tlog.TileHashReader over the C2SP tile paths (tile/<L>/<N>[.p/<W>],
//     Go's own layout being tile/8/<L>/...), recomputes tlog.TreeHash and reads every leaf
//     hash, each authenticated against the checkpoint's root;
//  4. reads every entry bundle (tile/entries/<N>[.p/<W>]) and checks tlog.RecordHash of each
//     entry against its leaf hash;
//  5. with -kept FILE, an older checkpoint: verifies it and checks with tlog.ProveTree and
//     tlog.CheckTree that it is a prefix of the current tree;
//  6. with -audit-token, fetches the server's JSON proofs (/v1/audit/consistency and
//     /v1/audit/inclusion) and checks them with tlog.CheckTree and tlog.CheckRecord.
//
// It prints one JSON object describing what it verified, or exits 1 with the reason.
// Build offline from the Debian packages golang-go and golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o reader ./tests/anchors/go_tlog_reader
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// source fetches a resource of the log by its path (e.g. "tile/0/000").
type source struct {
	prefix    string
	client    *http.Client
	resources int
	bytes     int
}

var errNotFound = errors.New("not found")

func (s *source) get(path string, header map[string]string) ([]byte, error) {
	var data []byte
	if strings.HasPrefix(s.prefix, "http://") || strings.HasPrefix(s.prefix, "https://") {
		req, err := http.NewRequest("GET", strings.TrimRight(s.prefix, "/")+"/"+path, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", path, errNotFound)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		data, err = os.ReadFile(filepath.Join(s.prefix, filepath.FromSlash(path)))
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", path, errNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	s.resources++
	s.bytes += len(data)
	return data, nil
}

// c2spPath names a tile as C2SP tlog-tiles does: Go's tile/8/L/N[.p/W] without the height,
// and tile/entries/N for the data tiles (L = -1) Go calls tile/8/data/N.
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	p = strings.Replace(p, "tile/8/data/", "tile/entries/", 1)
	return strings.Replace(p, "tile/8/", "tile/", 1)
}

// tileReader is the tlog.TileReader of the log's hash tiles (each fetched once).
type tileReader struct {
	src   *source
	cache map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data, ok := r.cache[t]; ok {
			out[i] = data
			continue
		}
		data, err := r.src.get(c2spPath(t), nil)
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles keeps tiles that tlog has authenticated against the checkpoint's root.
func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		r.cache[t] = data[i]
	}
}

type checkpoint struct {
	origin string
	tree   tlog.Tree
	text   string
	note   *note.Note
}

// openCheckpoint verifies a signed checkpoint with sumdb/note and parses its three lines
// (C2SP tlog-checkpoint: origin, decimal size, base64 root hash, optional extension lines).
func openCheckpoint(msg []byte, ledger note.Verifier) (*checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(ledger))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return nil, fmt.Errorf("checkpoint: fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint: malformed size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, fmt.Errorf("checkpoint: malformed root hash %q", lines[2])
	}
	if lines[0] != ledger.Name() {
		return nil, fmt.Errorf("checkpoint: origin %q is not the key's name %q", lines[0], ledger.Name())
	}
	var h tlog.Hash
	copy(h[:], root)
	return &checkpoint{lines[0], tlog.Tree{N: size, Hash: h}, n.Text, n}, nil
}

// witness is a cosignature/v1 verifier key: <name>+<hex key ID>+base64(0x04 || Ed25519 key).
type witness struct {
	name  string
	keyID uint32
	key   ed25519.PublicKey
}

func parseWitness(vkey string) (witness, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return witness{}, fmt.Errorf("witness key %q: name+id+key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return witness{}, fmt.Errorf("witness key %q: not a cosignature/v1 Ed25519 key", vkey)
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 {
		return witness{}, fmt.Errorf("witness key %q: malformed key ID", vkey)
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if binary.BigEndian.Uint32(h[:4]) != uint32(id) {
		return witness{}, fmt.Errorf("witness key %q: key ID does not match the key", vkey)
	}
	return witness{parts[0], uint32(id), ed25519.PublicKey(raw[1:])}, nil
}

// cosigners returns the names of the witnesses whose cosignature/v1 over text verifies
// (C2SP tlog-cosignature: signature = u64be timestamp || Ed25519 over
// "cosignature/v1\ntime <timestamp>\n" || checkpoint text). A bad one from a known key fails.
func cosigners(n *note.Note, text string, witnesses []witness) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, sig := range n.UnverifiedSigs {
		for _, w := range witnesses {
			if sig.Name != w.name || sig.Hash != w.keyID {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(sig.Base64)
			if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
				return nil, fmt.Errorf("cosignature of %s: malformed", w.name)
			}
			ts := binary.BigEndian.Uint64(raw[4:12])
			msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
			if ts == 0 || ts > 1<<63-1 || !ed25519.Verify(w.key, []byte(msg), raw[12:]) {
				return nil, fmt.Errorf("cosignature of %s does not verify", w.name)
			}
			if !seen[w.name] {
				seen[w.name] = true
				names = append(names, w.name)
			}
		}
	}
	return names, nil
}

// entries splits an entry bundle (big-endian uint16 length-prefixed entries) into w entries.
func entries(data []byte, w int) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("truncated length")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, fmt.Errorf("entry runs past the end")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	if len(out) != w {
		return nil, fmt.Errorf("%d entries, want %d", len(out), w)
	}
	return out, nil
}

type proofAnswer struct {
	Proof []string `json:"proof"`
}

func decodeProof(data []byte) ([]tlog.Hash, error) {
	var answer proofAnswer
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(answer.Proof))
	for i, p := range answer.Proof {
		raw, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d malformed", i)
		}
		copy(out[i][:], raw)
	}
	return out, nil
}

type report struct {
	Origin          string   `json:"origin"`
	Size            int64    `json:"size"`
	Root            string   `json:"root"`
	Cosigners       []string `json:"cosigners"`
	Entries         int64    `json:"entries"`
	EntryHashesHash string   `json:"entry_hashes_sha256"`
	HashTiles       int      `json:"hash_tiles"`
	EntryBundles    int      `json:"entry_bundles"`
	Resources       int      `json:"resources"`
	Bytes           int      `json:"bytes"`
	KeptSize        *int64   `json:"kept_size"`
	ServerProofs    int      `json:"server_proofs_checked"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_tlog_reader: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var witnessKeys multiFlag
	logURL := flag.String("log", "", "URL prefix or directory of the tiled log")
	vkey := flag.String("key", "", "the ledger's checkpoint verifier key (signed-note form)")
	flag.Var(&witnessKeys, "witness", "a witness cosignature/v1 verifier key (repeatable)")
	threshold := flag.Int("k", 0, "cosignatures needed from the -witness keys")
	kept := flag.String("kept", "", "a checkpoint kept from before (file)")
	token := flag.String("audit-token", "", "bearer token to check the server's JSON proofs")
	flag.Parse()
	if *logURL == "" || *vkey == "" {
		fail("usage: -log URL|DIR -key VKEY [-witness VKEY ... -k N] [-kept FILE] [-audit-token T]")
	}
	src := &source{prefix: *logURL, client: &http.Client{Timeout: 30 * time.Second}}
	ledger, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("-key: %v", err)
	}

	// 1. the checkpoint, with sumdb/note.
	msg, err := src.get("checkpoint", nil)
	if err != nil {
		fail("checkpoint: %v", err)
	}
	cp, err := openCheckpoint(msg, ledger)
	if err != nil {
		fail("%v", err)
	}

	// 2. the witnesses' cosignatures.
	var witnesses []witness
	for _, k := range witnessKeys {
		w, err := parseWitness(k)
		if err != nil {
			fail("%v", err)
		}
		witnesses = append(witnesses, w)
	}
	names, err := cosigners(cp.note, cp.text, witnesses)
	if err != nil {
		fail("%v", err)
	}
	if len(names) < *threshold {
		fail("checkpoint: %d cosignatures, need %d", len(names), *threshold)
	}

	// 3. the tree from its tiles, with sumdb/tlog.
	tr := &tileReader{src, map[tlog.Tile][]byte{}}
	hr := tlog.TileHashReader(cp.tree, tr)
	th, err := tlog.TreeHash(cp.tree.N, hr)
	if err != nil {
		fail("tree hash: %v", err)
	}
	if th != cp.tree.Hash {
		fail("tree hash %v is not the checkpoint's %v", th, cp.tree.Hash)
	}
	indexes := make([]int64, cp.tree.N)
	for i := range indexes {
		indexes[i] = tlog.StoredHashIndex(0, int64(i))
	}
	leaves, err := hr.ReadHashes(indexes)
	if err != nil {
		fail("leaf hashes: %v", err)
	}
	hashTiles := src.resources - 1

	// 4. every entry bundle, every entry.
	digest := sha256.New()
	bundles := 0
	for n := int64(0); n*256 < cp.tree.N; n++ {
		w := 256
		if rest := cp.tree.N - n*256; rest < 256 {
			w = int(rest)
		}
		t := tlog.Tile{H: tileHeight, L: -1, N: n, W: w}
		data, err := src.get(c2spPath(t), nil)
		if err != nil {
			fail("entry bundle: %v", err)
		}
		found, err := entries(data, w)
		if err != nil {
			fail("%s: %v", c2spPath(t), err)
		}
		for i, e := range found {
			index := n*256 + int64(i)
			if tlog.RecordHash(e) != leaves[index] {
				fail("%s: entry %d does not hash to its leaf", c2spPath(t), index)
			}
			digest.Write(e)
		}
		bundles++
	}

	out := report{
		Origin:          cp.origin,
		Size:            cp.tree.N,
		Root:            hex.EncodeToString(cp.tree.Hash[:]),
		Cosigners:       names,
		Entries:         cp.tree.N,
		EntryHashesHash: hex.EncodeToString(digest.Sum(nil)),
		HashTiles:       hashTiles,
		EntryBundles:    bundles,
	}

	// 5. a kept checkpoint is a prefix of this tree.
	if *kept != "" {
		old, err := os.ReadFile(*kept)
		if err != nil {
			fail("-kept: %v", err)
		}
		oc, err := openCheckpoint(old, ledger)
		if err != nil {
			fail("-kept: %v", err)
		}
		if oc.tree.N > cp.tree.N {
			fail("-kept: size %d is beyond the log's %d (rollback)", oc.tree.N, cp.tree.N)
		}
		proof, err := tlog.ProveTree(cp.tree.N, oc.tree.N, hr)
		if err != nil {
			fail("-kept: %v", err)
		}
		if err := tlog.CheckTree(proof, cp.tree.N, cp.tree.Hash, oc.tree.N, oc.tree.Hash); err != nil {
			fail("-kept: the kept checkpoint is not a prefix of this log: %v", err)
		}
		out.KeptSize = &oc.tree.N
	}

	// 6. the server's JSON proofs, checked by sumdb/tlog.
	if *token != "" {
		auth := map[string]string{"Authorization": "Bearer " + *token}
		for _, from := range []int64{1, cp.tree.N / 3, cp.tree.N - 1} {
			if from < 1 || from >= cp.tree.N {
				continue
			}
			data, err := src.get(fmt.Sprintf("v1/audit/consistency?from=%d&to=%d", from, cp.tree.N), auth)
			if err != nil {
				fail("consistency: %v", err)
			}
			proof, err := decodeProof(data)
			if err != nil {
				fail("consistency: %v", err)
			}
			oldHash, err := tlog.TreeHash(from, hr)
			if err != nil {
				fail("consistency: %v", err)
			}
			if err := tlog.CheckTree(tlog.TreeProof(proof), cp.tree.N, cp.tree.Hash, from, oldHash); err != nil {
				fail("consistency proof %d→%d: %v", from, cp.tree.N, err)
			}
			out.ServerProofs++
		}
		for _, index := range []int64{0, cp.tree.N / 2, cp.tree.N - 1} {
			data, err := src.get(fmt.Sprintf("v1/audit/inclusion?index=%d&size=%d", index, cp.tree.N), auth)
			if err != nil {
				fail("inclusion: %v", err)
			}
			proof, err := decodeProof(data)
			if err != nil {
				fail("inclusion: %v", err)
			}
			if err := tlog.CheckRecord(tlog.RecordProof(proof), cp.tree.N, cp.tree.Hash, index, leaves[index]); err != nil {
				fail("inclusion proof of %d: %v", index, err)
			}
			out.ServerProofs++
		}
	}
	out.Resources, out.Bytes = src.resources, src.bytes
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fail("%v", err)
	}
}
