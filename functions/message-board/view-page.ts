import { html } from 'hono/html';
import type { Template } from '../save/message.ts';
import { layout } from './layout.ts';
import type { MessagePage } from './list.ts';

export function viewPage(template: Template, limit: number, page: MessagePage) {
  const items = page.items.map(
    (item) => html`<li class="message">
<p>${item.data}</p>
<footer><time datetime="${item.createdAt.toISOString()}">${item.createdAt.toISOString().replace('T', ' ').slice(0, 19)} UTC</time> · ${item.template}</footer>
</li>`,
  );
  const older = page.nextCursor
    ? html`<a class="older" rel="next" href="/view?${new URLSearchParams({ template, limit: String(limit), cursor: page.nextCursor }).toString()}">Older messages</a>`
    : '';
  return layout(
    template,
    'Messages',
    html`<h1>Messages</h1>
<nav><a href="/?template=${template}">Write a message</a><a href="/view?template=${template}">Newest</a></nav>
${items.length > 0 ? html`<ol class="messages">${items}</ol>` : html`<p class="empty">No messages yet.</p>`}
${older}`,
  );
}
