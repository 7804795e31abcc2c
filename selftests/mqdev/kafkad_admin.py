#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Kafka's admin clients against mqdev-kafkad (kafkad_test.sh).

  kafkad_admin.py BOOTSTRAP ck PREFIX GROUP
  kafkad_admin.py BOOTSTRAP kp PREFIX GROUP

confluent-kafka's AdminClient (ck) or kafka-python's KafkaAdminClient (kp):
create topics PREFIX-1 (3 partitions) and PREFIX-2, refusals with Kafka's
error codes (an existing name, too many partitions, a replication factor,
a config; validate_only creates nothing), list and describe groups (GROUP
must be an empty one the daemon holds; an unknown one is "Dead"), and delete
PREFIX-2 and an unknown topic.  Prints "ok - ..." or "not ok - ..." per
check; exits non-zero if any failed.  PREFIX-1 is left for the caller to
check with mqctl.
"""
import sys

failed = 0


def check(ok, what):
    global failed
    print(("ok" if ok else "not ok"), "-", what, flush=True)
    if not ok:
        failed += 1


def ck(bootstrap, prefix, group):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": bootstrap})

    def outcomes(futures):
        """Each topic's error code, 0 for success."""
        out = []
        for f in futures.values():
            try:
                f.result(20)
                out.append(0)
            except KafkaException as e:
                out.append(e.args[0].code())
        return out

    def create(topics, **kw):
        return outcomes(a.create_topics(topics, operation_timeout=10, **kw))

    def delete(names):
        return outcomes(a.delete_topics(names, operation_timeout=10))

    check(create([NewTopic(prefix + "-1", 3, 1),
                  NewTopic(prefix + "-2", -1, -1)]) == [0, 0],
          "create_topics: two topics")
    check(create([NewTopic(prefix + "-1", 3, 1)]) ==
          [KafkaError.TOPIC_ALREADY_EXISTS],
          "an existing name: TOPIC_ALREADY_EXISTS")
    check(create([NewTopic(prefix + "-3", 1000, 1)]) ==
          [KafkaError.INVALID_PARTITIONS],
          "1000 partitions: INVALID_PARTITIONS")
    check(create([NewTopic(prefix + "-3", 1, 3)]) ==
          [KafkaError.INVALID_REPLICATION_FACTOR],
          "replication factor 3: INVALID_REPLICATION_FACTOR")
    check(create([NewTopic(prefix + "-3", 1, 1,
                           config={"cleanup.policy": "compact"})]) ==
          [KafkaError.INVALID_CONFIG], "a topic config: INVALID_CONFIG")
    check(create([NewTopic(prefix + "-3", 2, 1)], validate_only=True) == [0],
          "validate_only: valid")
    check(create([NewTopic(prefix + "-bad/name", 1, 1)]) ==
          [KafkaError.TOPIC_EXCEPTION], "a name mqdev cannot have: INVALID_TOPIC")
    md = a.list_topics(timeout=10)
    check(prefix + "-3" not in md.topics and
          len(md.topics[prefix + "-1"].partitions) == 3,
          "validate_only created nothing; the new topic has 3 partitions")

    groups = {g.id: g for g in a.list_groups(timeout=10)}
    check(group in groups, "list_groups: %s among %d" % (group, len(groups)))
    g = a.list_groups(group, timeout=10)
    check(len(g) == 1 and g[0].state == "Empty" and
          g[0].protocol_type == "consumer",
          "list_groups(%s) describes it: %s" %
          (group, [(x.state, x.protocol_type) for x in g]))
    # librdkafka leaves out a group DescribeGroups says is Dead
    g = a.list_groups("no-such-group", timeout=10)
    check(all(x.state == "Dead" for x in g), "an unknown group: none, or Dead")

    check(delete([prefix + "-2"]) == [0], "delete_topics")
    check(delete([prefix + "-none"]) ==
          [KafkaError.UNKNOWN_TOPIC_OR_PART],
          "an unknown topic: UNKNOWN_TOPIC_OR_PARTITION")


def kp(bootstrap, prefix, group):
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka import errors

    a = KafkaAdminClient(bootstrap_servers=bootstrap,
                         request_timeout_ms=20000)

    def fails(fn, err):
        try:
            fn()
        except err:
            return True
        except Exception as e:		# noqa: BLE001 -- report what came
            print("#", type(e).__name__, e)
        return False

    a.create_topics([NewTopic(prefix + "-1", 3, 1),
                     NewTopic(prefix + "-2", 1, 1)])
    check(True, "create_topics: two topics")
    check(fails(lambda: a.create_topics([NewTopic(prefix + "-1", 3, 1)]),
                errors.TopicAlreadyExistsError),
          "an existing name: TopicAlreadyExistsError")
    check(fails(lambda: a.create_topics([NewTopic(prefix + "-3", 0, 1)]),
                errors.InvalidPartitionsError),
          "0 partitions: InvalidPartitionsError")
    groups = dict(a.list_consumer_groups())
    check(group in groups, "list_consumer_groups: %s among %d" %
          (group, len(groups)))
    d = a.describe_consumer_groups(["no-such-group"])
    check(len(d) == 1 and d[0].state == "Dead", "an unknown group is Dead")
    a.delete_topics([prefix + "-2"])
    check(True, "delete_topics")
    check(fails(lambda: a.delete_topics([prefix + "-none"]),
                errors.UnknownTopicOrPartitionError),
          "an unknown topic: UnknownTopicOrPartitionError")
    a.close()


def main(argv):
    bootstrap, which, prefix, group = argv[1:5]
    try:
        (ck if which == "ck" else kp)(bootstrap, prefix, group)
    except Exception as e:		# noqa: BLE001 -- a failure, said so
        check(False, "%s: %s" % (type(e).__name__, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
