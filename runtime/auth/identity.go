package auth

// Methods an Identity can have been authenticated by.
const (
	MethodJWT    = "jwt"
	MethodAPIKey = "api_key"
)

// Identity is who a request was authenticated as. It is what the policy's
// input document carries under "auth".
type Identity struct {
	Method   string         // MethodJWT or MethodAPIKey
	Provider string         // the name of the auth provider that accepted the request
	Subject  string         // the JWT "sub" claim; the consumer for an API key
	Claims   map[string]any // a JWT's verified claims (JSON numbers as json.Number); empty for an API key
	Consumer string         // the API key's consumer; empty for a JWT
}
