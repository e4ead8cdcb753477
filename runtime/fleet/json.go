package fleet

import "encoding/json"

// MustJSON encodes what the fleet writes to NATS and disk: its own plain
// structs, which always encode.
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are encoded
	}
	return b
}
