// stamp-as stamps each request and response with X-Stamp: on, and answers
// TRACE with 405 itself: the filter `sluice filter new NAME --lang as`
// starts from, and the same header work as the Go and C stamps.
import { Filter, Header, method, register, setHeader, setStatusCode, stateless, writeBody } from "../../../sdk/assemblyscript/index";
export { handle_request, handle_response } from "../../../sdk/assemblyscript/index";

const header = "X-Stamp";
const value = "on";

class Stamp extends Filter {
  onRequest(): bool {
    if (method() == "TRACE") {
      setStatusCode(405);
      setHeader(Header.Response, "Content-Type", "application/json");
      writeBody(Header.Response, '{"error":"TRACE is not allowed"}\n');
      return false;
    }
    setHeader(Header.Request, header, value);
    return true;
  }

  onResponse(isError: bool): void {
    if (!isError) setHeader(Header.Response, header, value);
  }
}

stateless(); // it keeps nothing between the phases: one instance per core will do
register(new Stamp());
