import type { ESLint, Rule } from 'eslint';

export interface BoundaryZone {
  zone: string;
  folders: string[];
  forbidden: string[];
  packages: string[];
  why: string;
}

export const zones: BoundaryZone[];
export const privacyBoundaryRule: Rule.RuleModule;
declare const plugin: ESLint.Plugin;
export default plugin;
