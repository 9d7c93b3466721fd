import { describe, expect, it } from 'vitest';
import { expandReferences } from './env-references.ts';

describe('expandReferences, as the kubelet expands a container env value', () => {
  const defined = new Map([
    ['REDIS_PASSWORD', 's3cret'],
    ['EMPTY', ''],
  ]);

  it('replaces a reference to a variable defined before it, wherever it stands', () => {
    expect(expandReferences('redis://:$(REDIS_PASSWORD)@redis:6379/0', defined)).toBe('redis://:s3cret@redis:6379/0');
    expect(expandReferences('$(REDIS_PASSWORD)$(REDIS_PASSWORD)', defined)).toBe('s3crets3cret');
    expect(expandReferences('[$(EMPTY)]', defined)).toBe('[]');
  });

  it('leaves an unknown reference as written', () => {
    expect(expandReferences('$(UNSET) and $(REDIS_PASSWORD)', defined)).toBe('$(UNSET) and s3cret');
    expect(expandReferences('$()', defined)).toBe('$()');
  });

  it('reads $$ as one literal $, so $$(NAME) is the text $(NAME)', () => {
    expect(expandReferences('$$(REDIS_PASSWORD)', defined)).toBe('$(REDIS_PASSWORD)');
    expect(expandReferences('cost: $$5', defined)).toBe('cost: $5');
    expect(expandReferences('$$$(REDIS_PASSWORD)', defined)).toBe('$s3cret');
    expect(expandReferences('$$$', defined)).toBe('$$');
  });

  it('keeps a $ before anything else, a trailing $ and an unclosed reference', () => {
    expect(expandReferences('a$b', defined)).toBe('a$b');
    expect(expandReferences('ends with $', defined)).toBe('ends with $');
    expect(expandReferences('$(REDIS_PASSWORD', defined)).toBe('$(REDIS_PASSWORD');
    // The name runs to the first `)`, whatever it holds: no nesting.
    expect(expandReferences('$(A$(REDIS_PASSWORD))', defined)).toBe('$(A$(REDIS_PASSWORD))');
    expect(expandReferences('plain', defined)).toBe('plain');
  });
});
