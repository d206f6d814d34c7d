import type { ESLint, Rule } from 'eslint';

export interface BoundaryZone {
  zone: string;
  /** Folders from the repository root; a file belongs to the zone of its longest one. */
  folders: string[];
  /** Folders this zone may not import, each with everything below it. */
  forbidden: string[];
  /** Packages this zone may not import. */
  packages: string[];
  /** Why, naming the privacy promise; ends the lint message. */
  why: string;
}

export const zones: BoundaryZone[];
export const privacyBoundaryRule: Rule.RuleModule;
declare const plugin: ESLint.Plugin;
export default plugin;
