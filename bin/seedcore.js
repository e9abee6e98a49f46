#!/usr/bin/env node
// The CLI runs in this very process (no wrapper child), so signals sent to this pid reach it.
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
