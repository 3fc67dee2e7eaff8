import { existsSync, realpathSync } from "node:fs";
import path from "node:path";

/**
 * node-gyp's entry script: npm's `npm_config_node_gyp` (set in scripts npm runs), a node-gyp
 * installed next to localleap, or the copy bundled with the npm that runs this node. null when
 * none is found. (`require.resolve("node-gyp/...")` alone fails in installed packages: npm's
 * bundled node-gyp is not on their module path.)
 */
export function findNodeGyp(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): string | null {
    const candidates: string[] = [];
    if (env.npm_config_node_gyp) candidates.push(env.npm_config_node_gyp);
    try {
        candidates.push(require.resolve("node-gyp/bin/node-gyp.js", { paths: [root] }));
    } catch {
        // not installed beside localleap: try npm's own copy
    }
    const npmCli = env.npm_execpath ?? path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
    if (existsSync(npmCli)) candidates.push(path.join(path.dirname(realpathSync(npmCli)), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
    candidates.push("/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js", "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
    return candidates.find((candidate) => existsSync(candidate)) ?? null;
}
