#!/usr/bin/env node
// Model files are TypeScript: tsx compiles them (and ganc's own sources) on the fly.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
