// The Sluice filter SDK for AssemblyScript (npm `assemblyscript` 0.28).
//
// A filter is a WebAssembly module on the http-wasm handler ABI (host module
// "http_handler"), plus Sluice's "sluice" module for outbound calls. Write a
// class that extends Filter, register it at top level, and re-export the
// SDK's entry points from your entry file:
//
//   import { Filter, Header, register, setHeader } from "../../sdk/assemblyscript/index";
//   export { handle_request, handle_response } from "../../sdk/assemblyscript/index";
//
//   class Hello extends Filter {
//     onRequest(): bool { setHeader(Header.Request, "X-Hello", "world"); return true; }
//   }
//   register(new Hello());
//
// Compile with asc and this directory's asconfig.json (reactor: the top
// level runs in _initialize). Strings cross the ABI as UTF-8.

// ---- the ABI, as the host provides it ----

// @ts-ignore: decorator
@external("http_handler", "enable_features") declare function abi_enable_features(features: u32): u32;
// @ts-ignore: decorator
@external("http_handler", "get_config") declare function abi_get_config(buf: usize, limit: u32): u32;
// @ts-ignore: decorator
@external("http_handler", "log") declare function abi_log(level: i32, msg: usize, len: u32): void;
// @ts-ignore: decorator
@external("http_handler", "get_method") declare function abi_get_method(buf: usize, limit: u32): u32;
// @ts-ignore: decorator
@external("http_handler", "get_uri") declare function abi_get_uri(buf: usize, limit: u32): u32;
// @ts-ignore: decorator
@external("http_handler", "set_uri") declare function abi_set_uri(uri: usize, len: u32): void;
// @ts-ignore: decorator
@external("http_handler", "get_header_values") declare function abi_get_header_values(kind: u32, name: usize, nameLen: u32, buf: usize, limit: u32): u64;
// @ts-ignore: decorator
@external("http_handler", "set_header_value") declare function abi_set_header_value(kind: u32, name: usize, nameLen: u32, value: usize, valueLen: u32): void;
// @ts-ignore: decorator
@external("http_handler", "remove_header") declare function abi_remove_header(kind: u32, name: usize, nameLen: u32): void;
// @ts-ignore: decorator
@external("http_handler", "write_body") declare function abi_write_body(kind: u32, body: usize, len: u32): void;
// @ts-ignore: decorator
@external("http_handler", "get_status_code") declare function abi_get_status_code(): u32;
// @ts-ignore: decorator
@external("http_handler", "set_status_code") declare function abi_set_status_code(code: u32): void;
// @ts-ignore: decorator
@external("sluice", "http_call") declare function abi_http_call(upstream: usize, upstreamLen: u32, method: usize, methodLen: u32, uri: usize, uriLen: u32, headers: usize, headersLen: u32, body: usize, bodyLen: u32): i32;
// @ts-ignore: decorator
@external("sluice", "http_call_result") declare function abi_http_call_result(kind: u32, buf: usize, limit: u32): u32;

// ---- values ----

/** Which header map a header function acts on (also the body kinds 0 and 1). */
export enum Header { Request = 0, Response = 1, RequestTrailers = 2, ResponseTrailers = 3 }

/** Feature bits of enableFeatures. Stateless is Sluice's (see stateless()). */
export namespace Feature {
  export const BufferRequest: u32 = 1;
  export const BufferResponse: u32 = 2;
  export const Trailers: u32 = 4;
  export const Stateless: u32 = 0x80000000;
}

export enum LogLevel { Debug = -1, Info = 0, Warn = 1, Error = 2 }

/** Negative results of call(); 100-599 is a status. */
export namespace CallError {
  export const NotAllowed: i32 = -1; // not on the filter's `upstreams:` allow-list
  export const Timeout: i32 = -2;    // no answer before the filter's deadline
  export const TooLarge: i32 = -3;   // response body over 1 MiB
  export const Failed: i32 = -4;     // the upstream failed: refused, reset, no healthy endpoint
  export const Invalid: i32 = -5;    // a malformed request, or a call outside a request
}

// ---- the filter ----

/** A filter: override onRequest (true passes the request on) and onResponse. */
export class Filter {
  onRequest(): bool { return true; }
  onResponse(isError: bool): void {}
}

let filter: Filter | null = null;

/** register installs the filter; call it at top level. */
export function register(f: Filter): void { filter = f; }

/** handle_request is the guest export: re-export it from your entry file. */
export function handle_request(): u64 {
  const f = filter;
  if (f === null) { logMessage(LogLevel.Error, "sluice: no filter registered"); unreachable(); }
  return f!.onRequest() ? 1 : 0;
}

/** handle_response is the guest export: re-export it from your entry file. */
export function handle_response(reqCtx: u32, isError: u32): void {
  const f = filter;
  if (f !== null) f.onResponse(isError != 0);
}

// ---- host values ----

// One scratch buffer for values the host writes, grown on demand.
let scratch = new ArrayBuffer(2048);

// readHost calls get(buf, limit) until the value fits and returns it as UTF-8.
function readHost(get: (buf: usize, limit: u32) => u32): string {
  let n = get(changetype<usize>(scratch), <u32>scratch.byteLength);
  if (n > <u32>scratch.byteLength) {
    scratch = new ArrayBuffer(<i32>n);
    n = get(changetype<usize>(scratch), n);
  }
  return String.UTF8.decodeUnsafe(changetype<usize>(scratch), n);
}

function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s); }

export function enableFeatures(features: u32): u32 { return abi_enable_features(features); }

/** stateless declares, at top level, that onResponse needs nothing onRequest left. */
export function stateless(): void { abi_enable_features(Feature.Stateless); }

/** config is the filter's `config:` as JSON text. */
export function config(): string { return readHost((b: usize, l: u32): u32 => abi_get_config(b, l)); }

export function logMessage(level: LogLevel, msg: string): void {
  const m = utf8(msg);
  abi_log(level, changetype<usize>(m), <u32>m.byteLength);
}

export function method(): string { return readHost((b: usize, l: u32): u32 => abi_get_method(b, l)); }
export function uri(): string { return readHost((b: usize, l: u32): u32 => abi_get_uri(b, l)); }
export function setURI(u: string): void { const b = utf8(u); abi_set_uri(changetype<usize>(b), <u32>b.byteLength); }

/** header returns the first value of name in kind, or null when absent. */
export function header(kind: Header, name: string): string | null {
  const nm = utf8(name);
  let cl = abi_get_header_values(kind, changetype<usize>(nm), <u32>nm.byteLength, changetype<usize>(scratch), <u32>scratch.byteLength);
  if ((cl >> 32) == 0) return null;
  const len = <u32>cl;
  if (len > <u32>scratch.byteLength) {
    scratch = new ArrayBuffer(<i32>len);
    cl = abi_get_header_values(kind, changetype<usize>(nm), <u32>nm.byteLength, changetype<usize>(scratch), len);
  }
  let end: u32 = 0;
  while (end < len && load<u8>(changetype<usize>(scratch) + end) != 0) end++;
  return String.UTF8.decodeUnsafe(changetype<usize>(scratch), end);
}

export function setHeader(kind: Header, name: string, value: string): void {
  const n = utf8(name), v = utf8(value);
  abi_set_header_value(kind, changetype<usize>(n), <u32>n.byteLength, changetype<usize>(v), <u32>v.byteLength);
}

export function removeHeader(kind: Header, name: string): void {
  const n = utf8(name);
  abi_remove_header(kind, changetype<usize>(n), <u32>n.byteLength);
}

/** writeBody writes to the body of kind; the first write of a phase replaces it. */
export function writeBody(kind: Header, body: string): void {
  const b = utf8(body);
  abi_write_body(kind, changetype<usize>(b), <u32>b.byteLength);
}

export function statusCode(): u32 { return abi_get_status_code(); }
export function setStatusCode(code: u32): void { abi_set_status_code(code); }

/** The answer of call(): status >= 100, or a CallError and its reason in error. */
export class CallResponse {
  status: i32 = 0;
  body: string = "";
  error: string = "";
}

/**
 * call sends a request to an upstream on the filter's allow-list and waits
 * for the whole answer. headers alternate names and values.
 */
export function call(upstream: string, method: string, uri: string, headers: string[], body: string): CallResponse {
  let hs = "";
  for (let i = 0; i < headers.length; i++) hs += headers[i] + "\0";
  const u = utf8(upstream), m = utf8(method), p = utf8(uri), h = utf8(hs), b = utf8(body);
  const res = new CallResponse();
  res.status = abi_http_call(changetype<usize>(u), <u32>u.byteLength, changetype<usize>(m), <u32>m.byteLength,
    changetype<usize>(p), <u32>p.byteLength, changetype<usize>(h), <u32>h.byteLength, changetype<usize>(b), <u32>b.byteLength);
  if (res.status < 0) res.error = readHost((buf: usize, l: u32): u32 => abi_http_call_result(2, buf, l));
  else res.body = readHost((buf: usize, l: u32): u32 => abi_http_call_result(1, buf, l));
  return res;
}
