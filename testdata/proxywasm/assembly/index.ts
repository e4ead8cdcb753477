// A proxy-wasm HTTP filter written against the AssemblyScript SDK
// (@solo-io/proxy-runtime), built by the tests of runtime/filter and
// runtime/edge. Each request path selects what it exercises; see
// runtime/filter/proxywasm_test.go for the expectations.
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues,
  stream_context, send_local_response, log, LogLevelValues, Headers, HeaderPair, GrpcStatusValues,
  Counter, Histogram, Gauge, continue_request,
} from "@solo-io/proxy-runtime";
import { get_buffer_bytes, get_property, set_property, set_tick_period_milliseconds, BufferTypeValues, WasmResultValues } from "@solo-io/proxy-runtime/runtime";

// The SDK has no wrapper for these (or a broken one): declared as the ABI has them.
// @ts-ignore: decorator
@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(typ: u32, start: u32, length: u32, data: usize, size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_shared_data")
declare function proxy_get_shared_data(key: usize, key_size: usize, value_ptr: usize, value_size_ptr: usize, cas_ptr: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_shared_data")
declare function proxy_set_shared_data(key: usize, key_size: usize, value: usize, value_size: usize, cas: u32): u32;

// @ts-ignore: decorator
@external("env", "proxy_register_shared_queue")
declare function proxy_register_shared_queue(name: usize, name_size: usize, token_ptr: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_resolve_shared_queue")
declare function proxy_resolve_shared_queue(vm_id: usize, vm_id_size: usize, name: usize, name_size: usize, token_ptr: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_enqueue_shared_queue")
declare function proxy_enqueue_shared_queue(token: u32, data: usize, data_size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_dequeue_shared_queue")
declare function proxy_dequeue_shared_queue(token: u32, data_ptr: usize, data_size_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_set_header_map_pairs")
declare function proxy_set_header_map_pairs(typ: u32, ptr: usize, size: usize): u32;

// pairsBytes serializes headers as the ABI lays them out.
function pairsBytes(h: Headers): ArrayBuffer {
  let size = 4;
  for (let j = 0; j < h.length; j++) {
    size += 8 + h[j].key.byteLength + 1 + h[j].value.byteLength + 1;
  }
  const b = new ArrayBuffer(size);
  const p = changetype<usize>(b);
  store<u32>(p, h.length);
  let at = p + 4 + 8 * h.length;
  for (let j = 0; j < h.length; j++) {
    store<u32>(p + 4 + 8 * j, h[j].key.byteLength);
    store<u32>(p + 8 + 8 * j, h[j].value.byteLength);
    memory.copy(at, changetype<usize>(h[j].key), h[j].key.byteLength);
    at += h[j].key.byteLength;
    store<u8>(at++, 0);
    memory.copy(at, changetype<usize>(h[j].value), h[j].value.byteLength);
    at += h[j].value.byteLength;
    store<u8>(at++, 0);
  }
  return b;
}

let requests: Counter;
let bodyBytes: Histogram;
let inFlight: Gauge;
let ticks: u32 = 0;

class Root extends RootContext {
  config: string = "";
  createContext(context_id: u32): Context {
    return new Filter(context_id, this);
  }
  onConfigure(size: u32): bool {
    this.config = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, size));
    requests = new Counter("pw_requests");
    bodyBytes = new Histogram("pw_body_bytes");
    inFlight = new Gauge("pw_in_flight");
    const q = String.UTF8.encode("pw_queue");
    const cell = new Cell();
    proxy_register_shared_queue(changetype<usize>(q), q.byteLength, changetype<usize>(cell) + offsetof<Cell>("cas"));
    if (this.config == "tick") {
      set_tick_period_milliseconds(10);
    }
    log(LogLevelValues.info, "configured with " + this.config);
    return true;
  }
  onQueueReady(token: u32): void {
    const cell = new Cell();
    const st = proxy_dequeue_shared_queue(token, changetype<usize>(cell) + offsetof<Cell>("ptr"), changetype<usize>(cell) + offsetof<Cell>("size"));
    if (st == WasmResultValues.Ok) {
      sharedSet("dequeued", String.UTF8.decode(changetype<ArrayBuffer>(cell.ptr).slice(0, cell.size as i32)), 0);
    }
  }
  onTick(): void {
    ticks++;
    const k = String.UTF8.encode("ticks");
    const v = String.UTF8.encode(ticks.toString());
    proxy_set_shared_data(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength, 0);
  }
}

class Cell { ptr: usize; size: usize; cas: u32; }

// sharedGet returns the value and its CAS in cell, or the status.
function sharedGet(key: string, cell: Cell): u32 {
  const k = String.UTF8.encode(key);
  return proxy_get_shared_data(changetype<usize>(k), k.byteLength,
    changetype<usize>(cell) + offsetof<Cell>("ptr"), changetype<usize>(cell) + offsetof<Cell>("size"),
    changetype<usize>(cell) + offsetof<Cell>("cas"));
}

function sharedSet(key: string, value: string, cas: u32): u32 {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  return proxy_set_shared_data(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength, cas);
}

function prop(path: string): string {
  return String.UTF8.decode(get_property(path));
}

function answer(status: u32, body: string): FilterHeadersStatusValues {
  const h: Headers = [];
  h.push(new HeaderPair(String.UTF8.encode("x-local"), String.UTF8.encode("yes")));
  send_local_response(status, "answered by the filter", String.UTF8.encode(body), h, GrpcStatusValues.InvalidCode);
  return FilterHeadersStatusValues.StopIteration;
}

function onCallResponse(origin: Context, headers: u32, body_size: usize, trailers: u32): void {
  const status = stream_context.headers.http_callback.get(":status");
  const body = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.HttpCallResponseBody, 0, body_size as u32));
  stream_context.headers.request.add("x-call-status", status);
  stream_context.headers.request.add("x-call-body", body);
  continue_request();
}

class Filter extends Context {
  path: string = "";
  constructor(context_id: u32, root: Root) {
    super(context_id, root);
  }
  onRequestHeaders(n: u32, end_of_stream: bool): FilterHeadersStatusValues {
    requests.increment(1);
    inFlight.increment(1);
    const root = this.root_context as Root;
    this.path = stream_context.headers.request.get(":path");
    log(LogLevelValues.info, "request " + stream_context.headers.request.get(":method") + " " + this.path);
    stream_context.headers.request.add("x-pw-config", root.config);
    stream_context.headers.request.replace("x-pw-replaced", "new");
    stream_context.headers.request.remove("x-pw-remove");
    if (this.path == "/local") {
      return answer(418, "short and stout");
    }
    if (this.path.startsWith("/hold")) {
      // Holds the request until the body (and trailers) are seen: request
      // headers stay writable in the body and trailer callbacks.
      return FilterHeadersStatusValues.StopIteration;
    }
    if (this.path == "/props") {
      set_property("sluice\0note", String.UTF8.encode("kept"));
      return answer(200, [prop("request\0path"), prop("request\0method"), prop("request\0host"),
        prop("request\0scheme"), prop("plugin_name"), prop("plugin_root_id"), prop("sluice\0note"),
        prop("request\0headers\0x-probe"), prop("request\0id").length > 0 ? "id" : "no-id",
        prop("source\0address").length > 0 ? "source" : "no-source",
        get_property("request\0headers").byteLength > 4 ? "headers" : "no-headers"].join("|"));
    }
    if (this.path == "/shared") {
      const cell = new Cell();
      const st = sharedGet("counter", cell);
      let n: i32 = 0;
      if (st == WasmResultValues.Ok) {
        n = I32.parseInt(String.UTF8.decode(changetype<ArrayBuffer>(cell.ptr).slice(0, cell.size as i32)));
      }
      const ok = sharedSet("counter", (n + 1).toString(), st == WasmResultValues.Ok ? cell.cas : 0);
      const stale = st == WasmResultValues.Ok ? sharedSet("counter", "stale", cell.cas) : 99;
      return answer(200, "get=" + st.toString() + " n=" + (n + 1).toString() + " set=" + ok.toString() + " stale=" + stale.toString());
    }
    if (this.path == "/enqueue") {
      const q = String.UTF8.encode("pw_queue");
      const cell = new Cell();
      const rs = proxy_resolve_shared_queue(0, 0, changetype<usize>(q), q.byteLength, changetype<usize>(cell) + offsetof<Cell>("cas"));
      const item = String.UTF8.encode("item-" + stream_context.headers.request.get("x-item"));
      const es = proxy_enqueue_shared_queue(cell.cas, changetype<usize>(item), item.byteLength);
      return answer(200, "resolve=" + rs.toString() + " enqueue=" + es.toString());
    }
    if (this.path == "/ticks" || this.path == "/dequeued") {
      const cell = new Cell();
      const st = sharedGet(this.path == "/ticks" ? "ticks" : "dequeued", cell);
      const v = st == WasmResultValues.Ok ? String.UTF8.decode(changetype<ArrayBuffer>(cell.ptr).slice(0, cell.size as i32)) : "none";
      return answer(200, v);
    }
    if (this.path == "/call") {
      const h: Headers = [];
      h.push(new HeaderPair(String.UTF8.encode(":method"), String.UTF8.encode("GET")));
      h.push(new HeaderPair(String.UTF8.encode(":path"), String.UTF8.encode("/called")));
      h.push(new HeaderPair(String.UTF8.encode(":authority"), String.UTF8.encode("called.internal")));
      root.httpCall(root.config, h, new ArrayBuffer(0), [], 1000, this, onCallResponse);
      return FilterHeadersStatusValues.StopIteration;
    }
    if (this.path == "/trap") {
      unreachable();
    }
    if (this.path == "/pairs") {
      const all = stream_context.headers.request.get_headers();
      const kept: Headers = [];
      for (let j = 0; j < all.length; j++) {
        if (String.UTF8.decode(all[j].key) != "x-drop") {
          kept.push(all[j]);
        }
      }
      kept.push(new HeaderPair(String.UTF8.encode("x-pairs"), String.UTF8.encode(all.length.toString())));
      const flat = pairsBytes(kept); // the SDK's set_headers does not compile
      proxy_set_header_map_pairs(0, changetype<usize>(flat), flat.byteLength);
      return FilterHeadersStatusValues.Continue;
    }
    if (this.path == "/abort") {
      throw new Error("gave up"); // the SDK's abort: proxy_log, then wasi_unstable.proc_exit(255)
    }
    if (this.path == "/eat") {
      const keep: ArrayBuffer[] = [];
      while (true) { keep.push(new ArrayBuffer(1 << 14)); }
    }
    if (this.path == "/loop") {
      while (this.path.length > 0) { ticks++; }
    }
    return FilterHeadersStatusValues.Continue;
  }
  onRequestBody(size: usize, end_of_stream: bool): FilterDataStatusValues {
    if (this.path.startsWith("/hold")) {
      return FilterDataStatusValues.StopIterationAndBuffer; // until the trailers
    }
    if (this.path != "/upper") {
      return FilterDataStatusValues.Continue;
    }
    if (!end_of_stream) {
      return FilterDataStatusValues.StopIterationAndBuffer;
    }
    bodyBytes.record(bodyBytes.metric_id, size as u64);
    const body = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.HttpRequestBody, 0, size as u32)).toUpperCase();
    const b = String.UTF8.encode(body);
    proxy_set_buffer_bytes(BufferTypeValues.HttpRequestBody, 0, size as u32, changetype<usize>(b), b.byteLength);
    return FilterDataStatusValues.Continue;
  }
  onResponseHeaders(n: u32, end_of_stream: bool): FilterHeadersStatusValues {
    inFlight.increment(-1);
    stream_context.headers.response.add("x-pw-status", stream_context.headers.response.get(":status"));
    return FilterHeadersStatusValues.Continue;
  }
  onResponseTrailers(n: u32): FilterTrailersStatusValues {
    stream_context.trailers.response.add("x-pw-trailer", stream_context.trailers.response.get("x-up") + "/" + n.toString());
    return FilterTrailersStatusValues.Continue;
  }
  onRequestTrailers(n: u32): FilterTrailersStatusValues {
    stream_context.headers.request.add("x-pw-request-trailer", stream_context.trailers.request.get("x-t"));
    return FilterTrailersStatusValues.Continue;
  }
  onResponseBody(size: usize, end_of_stream: bool): FilterDataStatusValues {
    if (this.path != "/wrap") {
      return FilterDataStatusValues.Continue;
    }
    if (!end_of_stream) {
      return FilterDataStatusValues.StopIterationAndBuffer;
    }
    const body = "[" + String.UTF8.decode(get_buffer_bytes(BufferTypeValues.HttpResponseBody, 0, size as u32)) + "]";
    const b = String.UTF8.encode(body);
    proxy_set_buffer_bytes(BufferTypeValues.HttpResponseBody, 0, size as u32, changetype<usize>(b), b.byteLength);
    return FilterDataStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new Root(context_id); }, "proxywasm");
