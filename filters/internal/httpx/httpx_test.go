package httpx

import "testing"

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"X-Request-Id": true, "x_y.z~!": true, "": false, "Bad Header": false,
		"a:b": false, "é": false, "a\x00": false, "(x)": false,
	} {
		if ValidName(s) != want {
			t.Errorf("ValidName(%q) = %v", s, !want)
		}
	}
}

func TestValidValue(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "max-age=31536000; includeSubDomains": true, "a\tb": true, "é": true,
		"a\r\nX-Evil: 1": false, "a\x00": false, " lead": false, "trail ": false, "del\x7f": false,
	} {
		if ValidValue(s) != want {
			t.Errorf("ValidValue(%q) = %v", s, !want)
		}
	}
}
