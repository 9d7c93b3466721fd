import * as z from '../../runtime/zod.ts';

/** The CloudEvent type `save` publishes and `message-worker` consumes (the Trigger filters on it). */
export const messageSavedType = 'dev.knfn.message.saved';

export const templates = ['default', 'space'] as const;
export type Template = (typeof templates)[number];

export const templateSchema = z._default(z.enum(templates), 'default');

/** A message as the user submits it and as it travels in the event's data. */
export const messageSchema = z.object({
  data: z.string().check(z.minLength(1), z.maxLength(2000)),
  template: templateSchema,
});

export type Message = z.infer<typeof messageSchema>;
