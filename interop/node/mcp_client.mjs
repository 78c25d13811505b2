// An MCP client on the official TypeScript SDK (@modelcontextprotocol/sdk) signing in to an MCP server protected
// by waxseal, as examples/mcp-server/tests/sdk_clients.rs drives it:
//
//   node interop/node/mcp_client.mjs MCP_URL [--client-metadata-url URL]
//
// Given only the server's URL, the SDK does the rest: the 401 names the protected resource metadata, which names
// the authorization server; the SDK registers a client there (RFC 7591) — or, with --client-metadata-url and a
// server that supports them, uses that URL as its client id — and builds the authorization URL (PKCE, resource).
// This script prints that URL as one JSON line, {"authorize": URL}, for someone (the test's browser) to open;
// the redirect comes back to a loopback server it runs on a random port. Then the SDK exchanges the code, and the
// script reconnects, lists the tools, calls `whoami` and `add`, and prints one JSON line with what it got. Any
// failure prints {"error": "..."} and exits 1.

import { randomBytes } from 'node:crypto';
import http from 'node:http';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

// The whole run, sign-in included, must end within this: a stuck flow fails instead of hanging the test.
const DEADLINE_MS = 120_000;

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/// The loopback redirect URI's server: resolves with the first /callback's query once it arrives.
async function callbackServer() {
    let received;
    const query = new Promise((resolve) => {
        received = resolve;
    });
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://127.0.0.1');
        if (url.pathname !== '/callback') {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Signed in</title><h1>Signed in</h1><p>Back to the MCP client.</p>');
        received(url.searchParams);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const redirectUrl = `http://127.0.0.1:${server.address().port}/callback`;
    return { server, redirectUrl, query };
}

/// An OAuthClientProvider that keeps everything in memory: this run registers (or uses its metadata URL) afresh.
class Provider {
    constructor(redirectUrl, clientMetadataUrl) {
        this.redirectUrl = redirectUrl;
        this.clientMetadataUrl = clientMetadataUrl;
        this.expectedState = undefined;
        this.client = undefined;
        this.saved = undefined;
        this.verifier = undefined;
    }

    get clientMetadata() {
        return {
            client_name: 'waxseal interop: MCP TypeScript SDK',
            redirect_uris: [this.redirectUrl],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
        };
    }

    state() {
        this.expectedState = randomBytes(16).toString('base64url');
        return this.expectedState;
    }

    clientInformation() {
        return this.client;
    }

    saveClientInformation(information) {
        this.client = information;
    }

    tokens() {
        return this.saved;
    }

    saveTokens(tokens) {
        this.saved = tokens;
    }

    redirectToAuthorization(url) {
        say({ authorize: url.href });
    }

    saveCodeVerifier(verifier) {
        this.verifier = verifier;
    }

    codeVerifier() {
        return this.verifier;
    }
}

async function main() {
    const args = process.argv.slice(2);
    const mcpUrl = args[0];
    const metadataFlag = args.indexOf('--client-metadata-url');
    const clientMetadataUrl = metadataFlag > 0 ? args[metadataFlag + 1] : undefined;
    if (!mcpUrl || mcpUrl.startsWith('--') || (metadataFlag > 0 && !clientMetadataUrl)) {
        throw new Error('usage: node mcp_client.mjs MCP_URL [--client-metadata-url URL]');
    }
    const { server, redirectUrl, query } = await callbackServer();
    const provider = new Provider(redirectUrl, clientMetadataUrl);
    const info = { name: 'waxseal-interop', version: '1.0.0' };

    // First contact: no token, so the SDK discovers, registers and asks for the sign-in.
    const first = new Client(info);
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    try {
        await first.connect(transport);
        throw new Error('the server let an unauthenticated client connect');
    } catch (e) {
        if (!(e instanceof UnauthorizedError)) throw e;
    }

    const params = await query;
    if (params.get('error')) {
        throw new Error(`authorization refused: ${params.get('error')}: ${params.get('error_description')}`);
    }
    if (params.get('state') !== provider.expectedState) {
        throw new Error('the redirect carries another state than the one sent');
    }
    // The transport that met the 401 remembers its resource_metadata and scope: it exchanges the code.
    await transport.finishAuth(params.get('code'));

    // Signed in: a new connection with the token.
    const client = new Client(info);
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    const whoami = await client.callTool({ name: 'whoami', arguments: {} });
    const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    await client.close();
    server.close();
    say({
        sdk: 'typescript',
        client_id: provider.client?.client_id,
        iss: params.get('iss'),
        tools,
        whoami: { is_error: whoami.isError ?? false, result: JSON.parse(whoami.content[0].text) },
        add: { is_error: add.isError ?? false, result: add.content[0].text },
    });
}

setTimeout(() => {
    say({ error: `no result within ${DEADLINE_MS / 1000} s` });
    process.exit(1);
}, DEADLINE_MS).unref();

main().then(
    () => process.exit(0),
    (e) => {
        say({ error: String(e?.stack ?? e) });
        process.exit(1);
    },
);
