// Queries package.json for the Node.js buildpack (runs on the stack's node).
//
//   node package.js DIR check            exit 0 if package.json is valid JSON
//   node package.js DIR script NAME      prints scripts[NAME] (exit 1 if absent)
//   node package.js DIR engine NAME      prints engines[NAME] (exit 1 if absent)
//   node package.js DIR satisfies VERSION RANGE
//        exit 0 if VERSION satisfies the semver RANGE, 1 if not, 2 if unknown
"use strict";
const fs = require("fs");
const path = require("path");

const [dir, cmd, ...args] = process.argv.slice(2);

function load() {
  const file = path.join(dir, "package.json");
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    process.stderr.write(`${file}: ${e.message}\n`);
    process.exit(3);
  }
}

function loadSemver() {
  // The build stack ships npm's semver (Debian: /usr/share/nodejs/semver).
  for (const p of ["semver", "/usr/share/nodejs/semver", "/usr/lib/node_modules/npm/node_modules/semver"]) {
    try {
      return require(p);
    } catch (e) {
      // try the next one
    }
  }
  return null;
}

const pkg = load();
switch (cmd) {
  case "check":
    if (pkg === null || typeof pkg !== "object" || Array.isArray(pkg)) {
      process.stderr.write("package.json must contain a JSON object\n");
      process.exit(3);
    }
    break;
  case "script":
  case "engine": {
    const table = (cmd === "script" ? pkg.scripts : pkg.engines) || {};
    const value = table[args[0]];
    if (typeof value !== "string" || value.trim() === "") process.exit(1);
    process.stdout.write(value);
    break;
  }
  case "satisfies": {
    const semver = loadSemver();
    if (!semver || !semver.validRange(args[1])) process.exit(2);
    process.exit(semver.satisfies(args[0], args[1]) ? 0 : 1);
    break;
  }
  default:
    process.stderr.write(`unknown query: ${cmd}\n`);
    process.exit(4);
}
