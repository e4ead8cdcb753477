package edge

import "github.com/sluicegw/sluice/runtime/proxy"

func forwardOptions(x *routeExtras) proxy.ForwardOptions {
	return proxy.ForwardOptions{Timeout: x.timeout}
}
