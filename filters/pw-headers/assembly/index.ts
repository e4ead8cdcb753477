// pw-headers is a proxy-wasm filter (Envoy's ABI, the AssemblyScript SDK
// @solo-io/proxy-runtime): it adds X-Proxy-Wasm to the request it passes on
// and to the response, its value the filter's config ("on" without one).
// The same module runs in Envoy; Sluice tells it from an http-wasm filter by
// its exports.
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context } from "@solo-io/proxy-runtime";
import { get_buffer_bytes, BufferTypeValues } from "@solo-io/proxy-runtime/runtime";

const header = "x-proxy-wasm";

class Root extends RootContext {
  value: string = "on";
  createContext(context_id: u32): Context {
    return new AddHeader(context_id, this);
  }
  onConfigure(size: u32): bool {
    if (size > 0) {
      this.value = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, size));
    }
    return true;
  }
}

class AddHeader extends Context {
  constructor(context_id: u32, root: Root) {
    super(context_id, root);
  }
  onRequestHeaders(n: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.request.replace(header, (this.root_context as Root).value);
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(n: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.replace(header, (this.root_context as Root).value);
    return FilterHeadersStatusValues.Continue;
  }
}

// The root id is the filter's name in the config (its plugin_root_id).
registerRootContext((context_id: u32) => { return new Root(context_id); }, "pw-headers");
