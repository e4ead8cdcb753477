//go:build race

package edge

// bigBody is smaller under the race detector, which makes every copy of
// the 1 GiB bodies many times slower; 128 MiB still exceeds the memory
// budget of the tests twice over.
const bigBody = 128 << 20
