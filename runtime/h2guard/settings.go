package h2guard

import (
	"encoding/binary"

	"golang.org/x/net/http2"
)

// settingLen is the size of one SETTINGS parameter (§6.5.1).
const settingLen = 6

// maxSettings is how many parameters x/net accepts in one frame (it ends
// the connection beyond, as a flood); such a frame is left to it.
const maxSettings = 100

// collapseSettings returns a SETTINGS frame that names each parameter at
// most once, with the effect of applying frame's values in order (§6.5.3):
// the last value of each, except SETTINGS_HEADER_TABLE_SIZE, which keeps
// the smallest: the server's HPACK encoder may use any table up to the
// client's limit, and the smallest is the one it must not exceed in
// between (RFC 7541 §4.2). If a value is invalid the connection ends with
// that value's error, so the frame becomes that one parameter. Whether an
// intermediate SETTINGS_INITIAL_WINDOW_SIZE would overflow a stream's
// window is not kept: only the last value is applied.
func collapseSettings(frame []byte) []byte {
	payload := frame[frameHeaderLen:]
	n := len(payload) / settingLen
	if n < 2 || n > maxSettings {
		return frame
	}
	settings := make([]http2.Setting, 0, n)
	repeated := false
	for i := range n {
		s := http2.Setting{
			ID:  http2.SettingID(binary.BigEndian.Uint16(payload[i*settingLen:])),
			Val: binary.BigEndian.Uint32(payload[i*settingLen+2:]),
		}
		if invalidSetting(s) {
			return encodeSettings(frame, []http2.Setting{s})
		}
		j := indexOf(settings, s.ID)
		switch {
		case j < 0:
			settings = append(settings, s)
		case s.ID == http2.SettingHeaderTableSize:
			repeated = true
			settings[j].Val = min(settings[j].Val, s.Val)
		default:
			repeated = true
			settings[j].Val = s.Val
		}
	}
	if !repeated {
		return frame
	}
	return encodeSettings(frame, settings)
}

// invalidSetting is a value the server ends the connection for: x/net's
// checks, and RFC 9218 §2.1's for SETTINGS_NO_RFC7540_PRIORITIES.
func invalidSetting(s http2.Setting) bool {
	return s.Valid() != nil || (s.ID == http2.SettingNoRFC7540Priorities && s.Val > 1)
}

func indexOf(settings []http2.Setting, id http2.SettingID) int {
	for i, s := range settings {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// encodeSettings writes settings over frame's payload (they are never
// more than it held) and returns the frame.
func encodeSettings(frame []byte, settings []http2.Setting) []byte {
	copy(frame, frameHeader(len(settings)*settingLen, http2.FrameSettings, 0, 0))
	p := frame[frameHeaderLen:]
	for i, s := range settings {
		binary.BigEndian.PutUint16(p[i*settingLen:], uint16(s.ID))
		binary.BigEndian.PutUint32(p[i*settingLen+2:], s.Val)
	}
	return frame[:frameHeaderLen+len(settings)*settingLen]
}
