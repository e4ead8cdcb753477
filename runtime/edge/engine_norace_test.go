//go:build !race

package edge

// bigBody is the size of the bodies TestLargeUploadStreams and
// TestLargeDownloadStreams send through a node: 1 GiB, as issue 10 asks.
const bigBody = 1 << 30
