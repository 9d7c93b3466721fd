import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Template } from '../save/message.ts';
import { themes } from './themes.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The pages run no script at all; the policy makes that hold even if some text ever escaped
 * unescaped into the markup.
 */
export const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function layout(template: Template, title: string, content: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${raw(themes[template])}</style>
</head>
<body class="theme-${template}">
<main>${content}</main>
</body>
</html>`;
}
