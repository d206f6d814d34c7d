import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import boundary from './tools/privacy-boundary.rule.js';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'dashboard/dist/', 'coverage/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['dashboard/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    plugins: { telemoat: boundary },
    rules: { 'telemoat/privacy-boundary': 'error' },
  },
);
