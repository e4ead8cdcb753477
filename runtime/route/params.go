package route

// Param is one {name} value captured from a matched `path` pattern.
type Param struct{ Name, Value string }

// Params are the {name} values of a matched `path` pattern, in the order they
// appear in the pattern. A slice rather than a map: routes hold few params,
// and a slice costs one allocation where a map costs several.
type Params []Param

// Get returns the value of the named param, or "" if the pattern has none.
func (p Params) Get(name string) string {
	for _, x := range p {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}
