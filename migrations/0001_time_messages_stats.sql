CREATE TABLE "locations" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"timezone" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "locations_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"data" text NOT NULL,
	"template" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "messages_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "request_stats" (
	"bucket_start" timestamp with time zone NOT NULL,
	"function" text NOT NULL,
	"method" text NOT NULL,
	"route" text NOT NULL,
	"requests" bigint NOT NULL,
	"client_errors" bigint NOT NULL,
	"server_errors" bigint NOT NULL,
	"duration_ms_sum" double precision NOT NULL,
	"latency_counts" bigint[] NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	CONSTRAINT "request_stats_bucket_start_function_method_route_pk" PRIMARY KEY("bucket_start","function","method","route")
);
--> statement-breakpoint
CREATE INDEX "messages_newest_first" ON "messages" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);