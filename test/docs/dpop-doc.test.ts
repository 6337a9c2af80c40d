/**
 * docs/**\/*.md: a ```ts block that gives `tokenAuth` DPoP options (an `origin`, say) gives the login
 * route's `dpopKeyFromRequest` options too: behind the proxy such a block describes, a login proof
 * checked without the same `origin` would be refused.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { markdownFiles } from '../support/doc-program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('DPoP options in the docs', () => {
  it('a block whose tokenAuth takes dpop options passes options to every dpopKeyFromRequest call', () => {
    const offending: string[] = [];
    let checked = 0;
    for (const file of markdownFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const [, block] of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
        if (
          !/dpopKeyFromRequest\(/.test(block!) ||
          !/\bdpop\b[^\n]*(origin|proofWindowSeconds|algorithms)|tokenAuth\([^)]*\{[^)]*\bdpop\b/.test(block!)
        )
          continue;
        checked++;
        for (const call of block!.matchAll(/dpopKeyFromRequest\(\s*\w+\s*\)/g))
          offending.push(`${relative(ROOT, file)}: ${call[0]}`);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(offending).toEqual([]);
  });
});
