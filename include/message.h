/*
 * message: HTTP handlers for talking to customers: the customer <-> store threads, surveys and
 * their report, and the manager's view of message delivery (the outbox). Each handler checks
 * its input, then makes one SQL call (schema/006_messages.sql).
 */
#ifndef CARNET_MESSAGE_H
#define CARNET_MESSAGE_H

struct req;

/* customers, by the private link in their message */
void message_customer_get(struct req *r);
void message_customer_post(struct req *r);
void message_survey_get(struct req *r);
void message_survey_answer(struct req *r);

/* staff of the store in the path */
void message_threads_list(struct req *r);
void message_thread_get(struct req *r);
void message_staff_post(struct req *r);
void message_outbox_list(struct req *r);
void message_outbox_retry(struct req *r);
void message_survey_report(struct req *r);

#endif
