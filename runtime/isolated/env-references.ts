/**
 * `$(NAME)` references in a container's env value, expanded as the kubelet does: NAME is a
 * variable defined earlier in the same list; an unknown NAME, a `$(` without its `)`, and a `$`
 * before anything else stay as written; `$$` is a literal `$` (so `$$(NAME)` is the text
 * `$(NAME)`). Values from a Secret are taken as they are, never expanded.
 *
 * @example
 * expandReferences('redis://:$(REDIS_PASSWORD)@redis:6379', new Map([['REDIS_PASSWORD', 'pw']])) // 'redis://:pw@redis:6379'
 * expandReferences('$$(HOME) $(UNSET)', new Map()) // '$(HOME) $(UNSET)'
 */
export function expandReferences(value: string, defined: ReadonlyMap<string, string>): string {
  let expanded = '';
  let index = 0;
  while (index < value.length) {
    const dollar = value.indexOf('$', index);
    // A `$` as the last character is plain text.
    if (dollar < 0 || dollar === value.length - 1) break;
    expanded += value.slice(index, dollar);
    const next = value[dollar + 1];
    if (next === '$') {
      expanded += '$';
      index = dollar + 2;
    } else if (next === '(') {
      const close = value.indexOf(')', dollar + 2);
      if (close < 0) {
        expanded += '$(';
        index = dollar + 2;
      } else {
        const name = value.slice(dollar + 2, close);
        expanded += defined.get(name) ?? `$(${name})`;
        index = close + 1;
      }
    } else {
      expanded += `$${next ?? ''}`;
      index = dollar + 2;
    }
  }
  return expanded + value.slice(index);
}
