import { z } from 'zod';

/** The CloudEvent type `save` publishes and `message-worker` consumes (the Trigger filters on it). */
export const messageSavedType = 'dev.knfn.message.saved';

export const templates = ['default', 'space'] as const;
export type Template = (typeof templates)[number];

export const templateSchema = z.enum(templates).default('default');

/** A message as the user submits it and as it travels in the event's data. */
export const messageSchema = z.object({
  data: z.string().min(1).max(2000),
  template: templateSchema,
});

export type Message = z.infer<typeof messageSchema>;
