package filter

import "fmt"

// Guest memory access. Every pointer and length a guest hands a host
// function is checked against the instance's current memory size before
// use; a bad one fails only the call in progress (the instance is then
// poisoned and dropped), never the node.

// guestFault is the panic value of a host function the guest misused.
// wazero recovers it and fails the guest call; the instance keeps it in
// Instance.fault so the error names the function and the reason.
type guestFault struct{ msg string }

func (f *guestFault) Error() string { return f.msg }

// fail aborts the host function and the guest call in progress.
func (i *Instance) fail(format string, args ...any) {
	f := &guestFault{msg: fmt.Sprintf(format, args...)}
	i.fault = f
	panic(f)
}

// view returns the n bytes of guest memory at ptr, or fails the call if the
// range is not entirely inside memory. The slice aliases guest memory: copy
// what must outlive the host function.
func (i *Instance) view(fn, what string, ptr, n uint32) []byte {
	b, ok := i.mem.Read(ptr, n)
	if !ok {
		i.fail("%s: %s [%d, %d) is outside guest memory of %d bytes", fn, what, ptr, uint64(ptr)+uint64(n), i.mem.Size())
	}
	return b
}

// readString copies a guest string.
func (i *Instance) readString(fn, what string, ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	return string(i.view(fn, what, ptr, n))
}

// writeIfFits implements the ABI's buf/buf_limit contract: when v is no
// longer than limit it is written at buf; either way its length is returned.
// Only the bytes actually written must be inside memory, so a guest may pass
// a generous limit.
func (i *Instance) writeIfFits(fn string, buf, limit uint32, v string) uint32 {
	n := uint32(len(v))
	if uint64(len(v)) > uint64(limit) || n == 0 {
		return n
	}
	copy(i.view(fn, "buf", buf, n), v)
	return n
}
