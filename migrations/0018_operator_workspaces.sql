-- Admin keys of an operator workspace may act platform-wide (consumer lag, the outbox, dead-letter redrive); an admin
-- of any other workspace acts in their own workspace only. The bootstrap workspace is the operators' one.
ALTER TABLE workspaces ADD COLUMN operator boolean NOT NULL DEFAULT false;
UPDATE workspaces SET operator = true WHERE name = 'default';
