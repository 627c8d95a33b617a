// typescript-eslint strict + type-checked for the TypeScript sources, the recommended
// rules for the build scripts, and the purity rule for the protocol layer.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

// Globals GJS defines that must never appear in src/protocol (it also runs under node).
const GJS_GLOBALS = ["imports", "print", "printerr", "log", "logError", "ARGV", "pkg", "window"];
const NODE_GLOBALS = ["process", "Buffer", "require", "module", "__dirname", "__filename", "global"];
const IO_GLOBALS = ["setTimeout", "setInterval", "clearTimeout", "clearInterval", "fetch"];

export default tseslint.config(
  { ignores: ["_build/", "node_modules/", "types/"] },
  {
    files: ["**/*.mjs", "**/*.js"],
    extends: [js.configs.recommended],
    ignores: ["tests/fixtures/**"],
    languageOptions: { globals: globals.node },
  },
  {
    // Plain GJS scripts run by the tests (gjs -m), not bundled.
    files: ["tests/fixtures/**/*.js"],
    languageOptions: { globals: { print: "readonly", printerr: "readonly", log: "readonly" } },
  },
  {
    files: ["**/*.ts"],
    extends: [...tseslint.configs.strictTypeChecked, ...tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["tests/**/*.ts"],
    rules: {
      // jasmine's expect().toThrowMatching etc. take callbacks that return nothing useful.
      "@typescript-eslint/no-confusing-void-expression": "off",
    },
  },
  {
    // The protocol layer is sans-IO and runtime-neutral: no GI, no GJS or node globals, no
    // timers (time is passed in). src/protocol/tsconfig.json enforces the same by types.
    files: ["src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["gi://*", "resource://*"], message: "src/protocol must not use GObject introspection." },
            { group: ["system", "gettext", "cairo", "console"], message: "src/protocol must not use GJS modules." },
            { group: ["node:*", "fs", "net", "path", "crypto"], message: "src/protocol must not use node modules." },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        ...[...GJS_GLOBALS, ...NODE_GLOBALS, ...IO_GLOBALS].map((name) => ({
          name,
          message: "src/protocol runs under node and GJS alike and does no I/O of its own.",
        })),
      ],
    },
  },
);
