/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [top]`: the functions with the most self
 * time in a V8 CPU profile (from `npm run bench -- --profile`), and the packages and project
 * folders they belong to, so hot spots can be named without opening DevTools.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const top = Number(topArg ?? 30);

// Self time per node: each sample's delta belongs to the node sampled.
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0)
    return url
      .slice(modules + 13)
      .split('/')
      .slice(0, 1)
      .join('/');
  if (url.startsWith('node:')) return url;
  const project = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /file:\/\/.*?\/([^/]+)\/[^/]+$/.exec(url);
  return project?.[1] ?? (url || '(native)');
};

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const node of profile.nodes) {
  const micros = selfMicros.get(node.id) ?? 0;
  if (!micros) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^file:\/\//, '')}:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byPlace.set(where(url), (byPlace.get(where(url)) ?? 0) + micros);
}

const print = (title: string, entries: Map<string, number>, count: number) => {
  console.log(`\n${title}`);
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    console.log(`${((micros / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
};
console.log(`${(total / 1e6).toFixed(1)} s sampled`);
print('Self time by package or project folder', byPlace, 15);
print('Self time by function', byFunction, top);
