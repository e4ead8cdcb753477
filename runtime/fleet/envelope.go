package fleet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Envelope is what the publisher writes to snapshot.stable and
// snapshot.canary: a revision, the digest of the document, the canary
// selector, the document as zstd-compressed JSON, and an ed25519 signature
// over all four. An edge node trusts nothing in it before Verify.
type Envelope struct {
	Revision  int64  `json:"revision"`
	Digest    string `json:"digest"` // "sha256:HEX" of the uncompressed document JSON
	Selector  string `json:"selector,omitempty"`
	Payload   []byte `json:"payload"` // zstd(JSON(Document))
	Signature []byte `json:"signature"`
}

// Document is the content of one snapshot revision: the config exactly as
// written (YAML, so secrets that the JSON form of config.Config leaves out
// survive) and, for every filter and policy it names, the digest of the
// artifact that replaces its module path.
type Document struct {
	Config   string            `json:"config"`
	Source   string            `json:"source,omitempty"` // file name, for messages
	Filters  map[string]string `json:"filters,omitempty"`
	Policies map[string]string `json:"policies,omitempty"`
	Author   string            `json:"author,omitempty"`
	Created  time.Time         `json:"created"`
	Note     string            `json:"note,omitempty"` // e.g. "rollback to 3"
}

// MaxDocument bounds a decompressed document, so a hostile payload cannot
// exhaust a node's memory before its digest is checked.
const MaxDocument = 32 << 20

var (
	zstdEnc, _ = zstd.NewWriter(nil)
	zstdDec    = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxDocument))
		return d
	})
)

// Seal encodes, compresses and signs doc as revision rev.
func Seal(key ed25519.PrivateKey, rev int64, selector string, doc *Document) (*Envelope, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: encode: %w", rev, err)
	}
	e := &Envelope{Revision: rev, Digest: Digest(raw), Selector: selector, Payload: zstdEnc.EncodeAll(raw, nil)}
	e.Signature = ed25519.Sign(key, e.signedBytes())
	return e, nil
}

// signedBytes is the exact message the signature covers. Each field is
// length-prefixed so no two different envelopes share a message.
func (e *Envelope) signedBytes() []byte {
	var b bytes.Buffer
	b.WriteString("sluice-snapshot-v1\x00")
	binary.Write(&b, binary.BigEndian, e.Revision)
	for _, s := range []string{e.Digest, e.Selector} {
		binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	sum := sha256.Sum256(e.Payload)
	b.Write(sum[:])
	return b.Bytes()
}

// Verify checks the signature against the trusted key.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, e.signedBytes(), e.Signature) {
		return fmt.Errorf("snapshot %d: verify: %w", e.Revision, ErrBadSignature)
	}
	return nil
}

// Open verifies the envelope, then decompresses and decodes its document,
// checking the digest.
func (e *Envelope) Open(pub ed25519.PublicKey) (*Document, error) {
	if err := e.Verify(pub); err != nil {
		return nil, err
	}
	return e.UnverifiedDocument()
}

// UnverifiedDocument decodes the payload without checking the signature; only the
// publisher, reading back what it signed, may call it directly.
func (e *Envelope) UnverifiedDocument() (*Document, error) {
	raw, err := zstdDec().DecodeAll(e.Payload, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: decompress: %w", e.Revision, err)
	}
	if len(raw) > MaxDocument {
		return nil, fmt.Errorf("snapshot %d: document larger than %d bytes", e.Revision, MaxDocument)
	}
	if Digest(raw) != e.Digest {
		return nil, fmt.Errorf("snapshot %d: document: %w", e.Revision, ErrDigestMismatch)
	}
	var doc Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("snapshot %d: decode: %w", e.Revision, err)
	}
	return &doc, nil
}

// Marshal is the envelope's wire form in the KV bucket.
func (e *Envelope) Marshal() []byte {
	b, _ := json.Marshal(e)
	return b
}

// ParseEnvelope reads an envelope's wire form.
func ParseEnvelope(data []byte) (*Envelope, error) {
	var e Envelope
	dec := json.NewDecoder(io.LimitReader(bytes.NewReader(data), MaxDocument))
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return &e, nil
}

// Digest names content by its sha256, as "sha256:HEX".
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Artifacts lists every digest the document needs.
func (doc *Document) Artifacts() []string {
	var out []string
	for _, d := range doc.Filters {
		out = append(out, d)
	}
	for _, d := range doc.Policies {
		out = append(out, d)
	}
	return out
}
