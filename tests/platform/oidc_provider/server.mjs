// An independent OpenID provider for the backend's single sign-on tests: panva's oidc-provider
// with its development login and consent pages, on a loopback port of its own. Prints
// {"issuer": …} on its first line once it listens; stops on SIGTERM or when stdin closes.
import { createServer } from "node:http";
import Provider from "oidc-provider";

const redirectUri = process.env.REDIRECT_URI;
const clientSecret = process.env.CLIENT_SECRET;
if (!redirectUri || !clientSecret) {
  console.error("REDIRECT_URI and CLIENT_SECRET are required");
  process.exit(2);
}

const server = createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "zsjg-backend",
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ["sub"], profile: ["preferred_username"] },
  cookies: { keys: ["oidc-provider-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id, preferred_username: id }) };
  },
});
provider.on("server_error", (_ctx, error) => console.error("server_error", error));
server.on("request", provider.callback());
console.log(JSON.stringify({ issuer }));

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
