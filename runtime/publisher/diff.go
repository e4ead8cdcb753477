package publisher

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/fleet"
)

// Diff is what a document changes against another (the running stable
// revision): routes, upstreams, filters, policies, auth providers and
// limits, each added, removed or changed. It names things and the YAML keys
// that changed, never values: an auth provider's keys and secrets stay out
// of it. Filter and policy modules are compared by digest.
type Diff struct {
	// Against is the stable revision compared with; 0 when there is none
	// yet (everything is added).
	Against   int64       `json:"against"`
	Routes    DiffSection `json:"routes"`
	Upstreams DiffSection `json:"upstreams"`
	Filters   DiffSection `json:"filters"`
	Policies  DiffSection `json:"policies"`
	Auth      DiffSection `json:"auth"`
	// Limits holds rate limits ("route NAME") and filter limits
	// ("filter NAME"); they are left out of Routes and Filters.
	Limits DiffSection `json:"limits"`
	// Settings holds any other top-level key that changed.
	Settings DiffSection `json:"settings"`
}

// DiffSection lists names added, removed and changed, each sorted.
type DiffSection struct {
	Added   []string     `json:"added"`
	Removed []string     `json:"removed"`
	Changed []DiffChange `json:"changed"`
}

// DiffChange is one thing present on both sides that differs.
type DiffChange struct {
	Name string `json:"name"`
	// Fields are the YAML keys that differ (order: a route moved among
	// the routes both sides have, which decides ties when matching).
	Fields []string `json:"fields"`
	// From and To are the module digests when a filter's or policy's
	// module changed.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

func (s *DiffSection) empty() bool {
	return len(s.Added) == 0 && len(s.Removed) == 0 && len(s.Changed) == 0
}

// Count is how many things the diff adds, removes or changes.
func (d *Diff) Count() int {
	n := 0
	for _, s := range d.sections() {
		n += len(s.section.Added) + len(s.section.Removed) + len(s.section.Changed)
	}
	return n
}

// Empty reports whether the diff changes nothing.
func (d *Diff) Empty() bool { return d.Count() == 0 }

type namedSection struct {
	noun    string // singular, for the text form
	section *DiffSection
}

func (d *Diff) sections() []namedSection {
	return []namedSection{
		{"route", &d.Routes}, {"upstream", &d.Upstreams}, {"filter", &d.Filters}, {"policy", &d.Policies},
		{"auth", &d.Auth}, {"limits of", &d.Limits}, {"setting", &d.Settings},
	}
}

// WriteText prints the diff for people, one line per thing:
//
//	against stable revision 3: 3 change(s)
//	  + route billing
//	  ~ route users: upstream, filters
//	  ~ filter request-id: module sha256:1a2b3c4d5e6f → sha256:9f8e7d6c5b4a
func (d *Diff) WriteText(w io.Writer) {
	against := fmt.Sprintf("stable revision %d", d.Against)
	if d.Against == 0 {
		against = "no stable revision (none published yet)"
	}
	if d.Empty() {
		fmt.Fprintf(w, "no changes against %s\n", against)
		return
	}
	fmt.Fprintf(w, "against %s: %d change(s)\n", against, d.Count())
	for _, s := range d.sections() {
		for _, n := range s.section.Added {
			fmt.Fprintf(w, "  + %s %s\n", s.noun, n)
		}
		for _, n := range s.section.Removed {
			fmt.Fprintf(w, "  - %s %s\n", s.noun, n)
		}
		for _, c := range s.section.Changed {
			fields := make([]string, 0, len(c.Fields))
			for _, f := range c.Fields {
				if f == "module" && c.From != "" {
					f = fmt.Sprintf("module %s → %s", shortDigest(c.From), shortDigest(c.To))
				}
				fields = append(fields, f)
			}
			fmt.Fprintf(w, "  ~ %s %s: %s\n", s.noun, c.Name, strings.Join(fields, ", "))
		}
	}
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// DiffDocuments compares two documents. old may be nil (nothing published
// yet). Both configs are parsed as a node would (strictly, with defaults),
// so a default written out is no change.
func DiffDocuments(old, new *fleet.Document) (*Diff, error) {
	to, err := config.Parse([]byte(new.Config), new.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fleet.ErrInvalidConfig, err)
	}
	from := &config.Config{}
	oldDoc := &fleet.Document{}
	if old != nil {
		oldDoc = old
		if from, err = config.Parse([]byte(old.Config), old.Source); err != nil {
			return nil, fmt.Errorf("the running config no longer parses: %w", err)
		}
	}
	d := &Diff{}
	diffMap(&d.Upstreams, from.Upstreams, to.Upstreams, nil)
	diffMap(&d.Auth, from.Auth, to.Auth, nil)
	diffMap(&d.Filters, from.Filters, to.Filters, func(name string, c *DiffChange) {
		if a, b := oldDoc.Filters[name], new.Filters[name]; a != b {
			c.Fields, c.From, c.To = append([]string{"module"}, c.Fields...), a, b
		}
	}, "module", "limits")
	diffMap(&d.Policies, from.Policies, to.Policies, func(name string, c *DiffChange) {
		if a, b := oldDoc.Policies[name], new.Policies[name]; a != b {
			c.Fields, c.From, c.To = append([]string{"module"}, c.Fields...), a, b
		}
	}, "module")

	fromRoutes, toRoutes := routesByName(from.Routes), routesByName(to.Routes)
	diffMap(&d.Routes, fromRoutes, toRoutes, nil, "rate_limit")
	moved := movedRoutes(from.Routes, to.Routes)
	for name := range moved {
		i := slices.IndexFunc(d.Routes.Changed, func(c DiffChange) bool { return c.Name == name })
		if i < 0 {
			d.Routes.Changed = append(d.Routes.Changed, DiffChange{Name: name})
			i = len(d.Routes.Changed) - 1
		}
		d.Routes.Changed[i].Fields = append(d.Routes.Changed[i].Fields, "order")
	}
	sortChanges(&d.Routes)

	// Limits: a route's rate_limit and a filter's limits.
	limits := map[string]any{}
	oldLimits := map[string]any{}
	for name, r := range fromRoutes {
		if r.RateLimit != nil {
			oldLimits["route "+name] = r.RateLimit
		}
	}
	for name, r := range toRoutes {
		if r.RateLimit != nil {
			limits["route "+name] = r.RateLimit
		}
	}
	for name, f := range from.Filters {
		oldLimits["filter "+name] = &f.Limits
	}
	for name, f := range to.Filters {
		limits["filter "+name] = &f.Limits
	}
	diffMap(&d.Limits, oldLimits, limits, nil)
	// A route or filter added or removed is reported as such, not again
	// with its limits.
	whole := func(n string) bool {
		kind, name, _ := strings.Cut(n, " ")
		sec := &d.Routes
		if kind == "filter" {
			sec = &d.Filters
		}
		return slices.Contains(sec.Added, name) || slices.Contains(sec.Removed, name)
	}
	d.Limits.Added = slices.DeleteFunc(d.Limits.Added, whole)
	d.Limits.Removed = slices.DeleteFunc(d.Limits.Removed, whole)

	// Any other top-level key (tracing, ...).
	known := map[string]bool{"upstreams": true, "filters": true, "policies": true, "auth": true, "routes": true}
	fv, tv := reflect.ValueOf(from).Elem(), reflect.ValueOf(to).Elem()
	for i := range fv.NumField() {
		key := yamlKey(fv.Type().Field(i))
		if key == "" || known[key] {
			continue
		}
		a, b := fv.Field(i), tv.Field(i)
		switch {
		case a.IsZero() && !b.IsZero():
			d.Settings.Added = append(d.Settings.Added, key)
		case !a.IsZero() && b.IsZero():
			d.Settings.Removed = append(d.Settings.Removed, key)
		case !reflect.DeepEqual(a.Interface(), b.Interface()):
			d.Settings.Changed = append(d.Settings.Changed, DiffChange{Name: key, Fields: changedFields(a.Interface(), b.Interface())})
		}
	}
	for _, s := range d.sections() {
		normalize(s.section)
	}
	return d, nil
}

// diffMap fills s with the names only in from (removed), only in to
// (added), and in both with different fields (changed), leaving out the
// fields in skip; extra may add to a change (a module digest) before it is
// kept if it has any field.
func diffMap[V any](s *DiffSection, from, to map[string]V, extra func(string, *DiffChange), skip ...string) {
	for name, b := range to {
		a, ok := from[name]
		if !ok {
			s.Added = append(s.Added, name)
			continue
		}
		c := DiffChange{Name: name, Fields: slices.DeleteFunc(changedFields(a, b), func(f string) bool { return slices.Contains(skip, f) })}
		if extra != nil {
			extra(name, &c)
		}
		if len(c.Fields) > 0 {
			s.Changed = append(s.Changed, c)
		}
	}
	for name := range from {
		if _, ok := to[name]; !ok {
			s.Removed = append(s.Removed, name)
		}
	}
	sort.Strings(s.Added)
	sort.Strings(s.Removed)
	sortChanges(s)
}

func sortChanges(s *DiffSection) {
	sort.Slice(s.Changed, func(i, j int) bool { return s.Changed[i].Name < s.Changed[j].Name })
}

func normalize(s *DiffSection) {
	if s.Added == nil {
		s.Added = []string{}
	}
	if s.Removed == nil {
		s.Removed = []string{}
	}
	if s.Changed == nil {
		s.Changed = []DiffChange{}
	}
}

// changedFields lists the YAML keys whose values differ between a and b,
// two values of one struct type (or pointers to it). Anything else that
// differs is reported as one change with no key.
func changedFields(a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer {
		if va.IsNil() || vb.IsNil() {
			if va.IsNil() != vb.IsNil() {
				return []string{"(all)"}
			}
			return nil
		}
		va, vb = va.Elem(), vb.Elem()
	}
	if va.Kind() != reflect.Struct || va.Type() != vb.Type() {
		if !reflect.DeepEqual(a, b) {
			return []string{"(value)"}
		}
		return nil
	}
	var out []string
	for i := range va.NumField() {
		key := yamlKey(va.Type().Field(i))
		if key == "" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, key)
		}
	}
	return out
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" || key == "" {
		return ""
	}
	return key
}

func routesByName(routes []*config.Route) map[string]*config.Route {
	m := make(map[string]*config.Route, len(routes))
	for _, r := range routes {
		m[r.Name] = r
	}
	return m
}

// movedRoutes returns the routes on both sides whose place among the routes
// both sides have differs: order breaks ties when two routes match alike.
func movedRoutes(from, to []*config.Route) map[string]bool {
	inTo, inFrom := routesByName(to), routesByName(from)
	var a, b []string
	for _, r := range from {
		if inTo[r.Name] != nil {
			a = append(a, r.Name)
		}
	}
	for _, r := range to {
		if inFrom[r.Name] != nil {
			b = append(b, r.Name)
		}
	}
	moved := map[string]bool{}
	for i := range a {
		if a[i] != b[i] {
			moved[b[i]] = true
		}
	}
	return moved
}
