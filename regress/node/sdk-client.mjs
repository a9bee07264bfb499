// sdk-client.mjs: drive one MCP session through "bridgectl mcp" with a
// real client library, printing TAP lines for regress/t-sdk.sh.
//
// usage: node sdk-client.mjs v1.11|v2 BRIDGECTL MCP_SOCK BASE_DIR
//        node sdk-client.mjs v1.11|v2 COMMAND ARG... BASE_DIR
//
// The second form spawns COMMAND ARG... itself (t-stdio.sh: bridged -i
// -f CONF) and checks that it has exited once the client has closed.
//
// v1.11 is the TypeScript SDK 1.11 client (it speaks 2025-03-26 and
// refuses a server that answers anything it does not know); v2 is the
// SDK v2 client (@modelcontextprotocol/client) pinned to 2026-07-28, so
// it must find server/discover and serve every request statelessly.

import fs from "node:fs";
import path from "node:path";

const [which, ...rest] = process.argv.slice(2);
const base = rest.pop();
const command = rest[0];
const args = rest.length === 2 ? ["mcp", rest[1]] : rest.slice(1);
const spawned = rest.length !== 2;
let n = 0, failed = 0;

function ok(cond, what, got) {
	n++;
	if (cond) {
		console.log(`ok ${n} - ${which}: ${what}`);
		return;
	}
	failed++;
	console.log(`not ok ${n} - ${which}: ${what}`);
	if (got !== undefined)
		console.log(`# got: ${JSON.stringify(got).slice(0, 600)}`);
}

function text(r) {
	return (r.content ?? []).filter((c) => c.type === "text")
	    .map((c) => c.text).join("\n");
}

async function load() {
	if (which === "v1.11") {
		const { Client } = await import("mcp-sdk-1.11/client/index.js");
		const { StdioClientTransport } =
		    await import("mcp-sdk-1.11/client/stdio.js");
		return { Client, StdioClientTransport, opts: {} };
	}
	if (which === "v2") {
		const { Client } = await import("@modelcontextprotocol/client");
		const { StdioClientTransport } =
		    await import("@modelcontextprotocol/client/stdio");
		return { Client, StdioClientTransport, opts: {
		    versionNegotiation: { mode: { pin: "2026-07-28" } } } };
	}
	throw new Error(`unknown client ${which}`);
}

async function main() {
	const { Client, StdioClientTransport, opts } = await load();
	const transport = new StdioClientTransport({
		command, args, stderr: "pipe",
	});
	let stderr = "";
	transport.stderr?.on("data", (d) => { stderr += d; });
	const client = new Client({ name: `sdk-${which}`, version: "1" },
	    { capabilities: {}, ...opts });

	try {
		await client.connect(transport);
		ok(true, "connects");
	} catch (e) {
		ok(false, "connects", String(e));
		console.log(`# ${command} stderr: ${stderr}`);
		return;
	}
	if (which === "v2") {
		ok(client.getProtocolEra?.() === "modern",
		    "the modern era was negotiated", client.getProtocolEra?.());
		const d = client.getDiscoverResult?.();
		ok(d && Array.isArray(d.supportedVersions ?? d.versions) ||
		    d !== undefined, "server/discover was answered", d);
	} else {
		ok(client.getServerVersion()?.name === "bridged",
		    "serverInfo names bridged", client.getServerVersion());
	}

	const { tools } = await client.listTools();
	const names = tools.map((t) => t.name);
	ok(names.includes("Bash") && names.includes("Read") &&
	    names.includes("hosts"), "tools/list has hosts, Bash, Read", names);
	if (which === "v1.11")
		ok(tools.every((t) => t.outputSchema === undefined &&
		    t.title === undefined),
		    "no outputSchema or title for a 2025-03-26 client",
		    tools.filter((t) => t.outputSchema || t.title)
		    .map((t) => t.name));

	let r = await client.callTool({ name: "hosts", arguments: {} });
	ok(!r.isError && text(r).includes("local"),
	    "hosts lists the host", r);

	r = await client.callTool({ name: "Bash",
	    arguments: { command: "echo sdk-$((6*7))" } });
	ok(!r.isError && text(r).includes("sdk-42"), "Bash runs", r);

	const file = path.join(base, `sdk-${which}.txt`);
	r = await client.callTool({ name: "Write",
	    arguments: { file_path: file, content: "one\ntwo\n" } });
	ok(!r.isError && fs.readFileSync(file, "utf8") === "one\ntwo\n",
	    "Write writes the file", r);
	r = await client.callTool({ name: "Read",
	    arguments: { file_path: file } });
	ok(!r.isError && /1\tone/.test(text(r)) && /2\ttwo/.test(text(r)),
	    "Read numbers the lines", r);

	r = await client.callTool({ name: "Read",
	    arguments: { file_path: path.join(base, "no-such-file") } });
	ok(r.isError === true && /no-such-file/.test(text(r)),
	    "a failing tool is a result with isError and a reason", r);

	try {
		await client.callTool({ name: "NoSuchTool", arguments: {} });
		ok(false, "an unknown tool is a JSON-RPC error");
	} catch (e) {
		ok(/NoSuchTool/.test(String(e)),
		    "an unknown tool is a JSON-RPC error naming it", String(e));
	}

	/* SDK 1.11 has no pid getter: its child process then */
	const pid = transport.pid ?? transport._process?.pid;
	await client.close();
	ok(true, "closes");
	if (spawned) {
		/* the SDK ends stdin, then waits; gone in time or it is a bug */
		let alive = true;
		for (let i = 0; i < 300 && alive; i++) {
			try {
				process.kill(pid, 0);
				await new Promise((r) => setTimeout(r, 100));
			} catch {
				alive = false;
			}
		}
		ok(!alive, "the server it spawned has exited", stderr);
	}
}

try {
	await main();
} catch (e) {
	ok(false, "no exception", String(e?.stack ?? e));
}
console.log(`1..${n}`);
process.exit(failed > 0 ? 1 : 0);
