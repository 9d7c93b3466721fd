import { html } from 'hono/html';
import { templates } from '../save/message.ts';
import type { Template } from '../save/message.ts';
import { layout } from './layout.ts';

export function homePage(template: Template) {
  const options = templates.map((name) => html`<option value="${name}"${name === template ? ' selected' : ''}>${name}</option>`);
  return layout(
    template,
    'Message board',
    html`<h1>Message board</h1>
<nav><a href="/view?template=${template}">Read the messages</a><a href="/stats">Statistics</a></nav>
<form method="post" action="/save">
<label for="data">Your message</label>
<textarea id="data" name="data" required maxlength="2000"></textarea>
<label for="template">Template</label>
<select id="template" name="template">${options}</select>
<button type="submit">Save</button>
</form>`,
  );
}
