// http-client.mjs URL TOKEN: a whole session with the TypeScript SDK's
// Streamable HTTP client (SDK 1.11, MCP 2025-03-26) against bridged's
// listener: initialize, tools/list, a Bash call on the host, close.
import { Client } from "mcp-sdk-1.11/client/index.js";
import { StreamableHTTPClientTransport } from
    "mcp-sdk-1.11/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
	requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "sdk-http", version: "1.0.0" });
await client.connect(transport);
if (!transport.sessionId)
	throw new Error("no Mcp-Session-Id from initialize");
const { tools } = await client.listTools();
if (!tools.some((t) => t.name === "Bash"))
	throw new Error("tools/list has no Bash");
const r = await client.callTool({ name: "Bash",
    arguments: { command: "echo sdk-over-http" } });
const text = r.content.map((c) => c.text).join("\n");
if (r.isError || !text.includes("sdk-over-http"))
	throw new Error(`Bash failed: ${text}`);
await transport.terminateSession();
await client.close();
console.log("ok: session", transport.sessionId ?? "(ended)");
