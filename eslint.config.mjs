// ESLint for lsptap: the recommended JavaScript and typescript-eslint rules (the type-aware
// set, since promise misuse is the bug a stream proxy most easily writes), with the few
// changes below, each for a reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bpf/**', 'test/fixtures/**', 'scripts/*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Lazy `require()` keeps start-up short (modules load only when used); each one is typed
      // with `typeof import(...)`.
      '@typescript-eslint/no-require-imports': 'off',
      // `_`-prefixed parameters are deliberate (callback shapes).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Fire-and-forget is written `void p` on purpose; a floating promise without it is a bug.
      '@typescript-eslint/no-floating-promises': ['error', {
        ignoreVoid: true,
        // node:test's test() returns a promise the runner itself awaits.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
      // Event handlers may be async; Node ignores their result by design.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // Template literals with numbers are how log and table lines are built.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // It asks for explicit type arguments where ffi-rs's generic load() is typed by an `as`
      // on its result, which reads better at the call.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Tests and tooling parse JSON log lines and protocol payloads whose shape the test asserts.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
);
