#include "protocol/error_code.h"

#include <array>

namespace sluice::protocol {
namespace {

struct error_info {
  error_code code;
  std::string_view name;
  bool retriable;
  std::string_view message;
};

// The one table: rows in code order with no gaps, so a code's row is at
// index code + 1. Transcribed from Kafka 3.9's generated protocol_errors.html
// (Errors.java); "retriable" is that page's column, computed by Kafka as
// "the exception is a RetriableException".
constexpr auto errors = std::to_array<error_info>({
    {error_code::unknown_server_error, "UNKNOWN_SERVER_ERROR", false,
     "The server experienced an unexpected error when processing the request."},
    {error_code::none, "NONE", false, ""},
    {error_code::offset_out_of_range, "OFFSET_OUT_OF_RANGE", false,
     "The requested offset is not within the range of offsets maintained by the server."},
    {error_code::corrupt_message, "CORRUPT_MESSAGE", true,
     "This message has failed its CRC checksum, exceeds the valid size, has a null key for a "
     "compacted topic, or is otherwise corrupt."},
    {error_code::unknown_topic_or_partition, "UNKNOWN_TOPIC_OR_PARTITION", true,
     "This server does not host this topic-partition."},
    {error_code::invalid_fetch_size, "INVALID_FETCH_SIZE", false,
     "The requested fetch size is invalid."},
    {error_code::leader_not_available, "LEADER_NOT_AVAILABLE", true,
     "There is no leader for this topic-partition as we are in the middle of a leadership "
     "election."},
    {error_code::not_leader_or_follower, "NOT_LEADER_OR_FOLLOWER", true,
     "For requests intended only for the leader, this error indicates that the broker is not the "
     "current leader. For requests intended for any replica, this error indicates that the broker "
     "is not a replica of the topic partition."},
    {error_code::request_timed_out, "REQUEST_TIMED_OUT", true, "The request timed out."},
    {error_code::broker_not_available, "BROKER_NOT_AVAILABLE", false,
     "The broker is not available."},
    {error_code::replica_not_available, "REPLICA_NOT_AVAILABLE", true,
     "The replica is not available for the requested topic-partition. Produce/Fetch requests and "
     "other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the "
     "broker is not a replica of the topic-partition."},
    {error_code::message_too_large, "MESSAGE_TOO_LARGE", false,
     "The request included a message larger than the max message size the server will accept."},
    {error_code::stale_controller_epoch, "STALE_CONTROLLER_EPOCH", false,
     "The controller moved to another broker."},
    {error_code::offset_metadata_too_large, "OFFSET_METADATA_TOO_LARGE", false,
     "The metadata field of the offset request was too large."},
    {error_code::network_exception, "NETWORK_EXCEPTION", true,
     "The server disconnected before a response was received."},
    {error_code::coordinator_load_in_progress, "COORDINATOR_LOAD_IN_PROGRESS", true,
     "The coordinator is loading and hence can't process requests."},
    {error_code::coordinator_not_available, "COORDINATOR_NOT_AVAILABLE", true,
     "The coordinator is not available."},
    {error_code::not_coordinator, "NOT_COORDINATOR", true, "This is not the correct coordinator."},
    {error_code::invalid_topic_exception, "INVALID_TOPIC_EXCEPTION", false,
     "The request attempted to perform an operation on an invalid topic."},
    {error_code::record_list_too_large, "RECORD_LIST_TOO_LARGE", false,
     "The request included message batch larger than the configured segment size on the server."},
    {error_code::not_enough_replicas, "NOT_ENOUGH_REPLICAS", true,
     "Messages are rejected since there are fewer in-sync replicas than required."},
    {error_code::not_enough_replicas_after_append, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
     "Messages are written to the log, but to fewer in-sync replicas than required."},
    {error_code::invalid_required_acks, "INVALID_REQUIRED_ACKS", false,
     "Produce request specified an invalid value for required acks."},
    {error_code::illegal_generation, "ILLEGAL_GENERATION", false,
     "Specified group generation id is not valid."},
    {error_code::inconsistent_group_protocol, "INCONSISTENT_GROUP_PROTOCOL", false,
     "The group member's supported protocols are incompatible with those of existing members or "
     "first group member tried to join with empty protocol type or empty protocol list."},
    {error_code::invalid_group_id, "INVALID_GROUP_ID", false, "The configured groupId is invalid."},
    {error_code::unknown_member_id, "UNKNOWN_MEMBER_ID", false,
     "The coordinator is not aware of this member."},
    {error_code::invalid_session_timeout, "INVALID_SESSION_TIMEOUT", false,
     "The session timeout is not within the range allowed by the broker (as configured by "
     "group.min.session.timeout.ms and group.max.session.timeout.ms)."},
    {error_code::rebalance_in_progress, "REBALANCE_IN_PROGRESS", false,
     "The group is rebalancing, so a rejoin is needed."},
    {error_code::invalid_commit_offset_size, "INVALID_COMMIT_OFFSET_SIZE", false,
     "The committing offset data size is not valid."},
    {error_code::topic_authorization_failed, "TOPIC_AUTHORIZATION_FAILED", false,
     "Topic authorization failed."},
    {error_code::group_authorization_failed, "GROUP_AUTHORIZATION_FAILED", false,
     "Group authorization failed."},
    {error_code::cluster_authorization_failed, "CLUSTER_AUTHORIZATION_FAILED", false,
     "Cluster authorization failed."},
    {error_code::invalid_timestamp, "INVALID_TIMESTAMP", false,
     "The timestamp of the message is out of acceptable range."},
    {error_code::unsupported_sasl_mechanism, "UNSUPPORTED_SASL_MECHANISM", false,
     "The broker does not support the requested SASL mechanism."},
    {error_code::illegal_sasl_state, "ILLEGAL_SASL_STATE", false,
     "Request is not valid given the current SASL state."},
    {error_code::unsupported_version, "UNSUPPORTED_VERSION", false,
     "The version of API is not supported."},
    {error_code::topic_already_exists, "TOPIC_ALREADY_EXISTS", false,
     "Topic with this name already exists."},
    {error_code::invalid_partitions, "INVALID_PARTITIONS", false,
     "Number of partitions is below 1."},
    {error_code::invalid_replication_factor, "INVALID_REPLICATION_FACTOR", false,
     "Replication factor is below 1 or larger than the number of available brokers."},
    {error_code::invalid_replica_assignment, "INVALID_REPLICA_ASSIGNMENT", false,
     "Replica assignment is invalid."},
    {error_code::invalid_config, "INVALID_CONFIG", false, "Configuration is invalid."},
    {error_code::not_controller, "NOT_CONTROLLER", true,
     "This is not the correct controller for this cluster."},
    {error_code::invalid_request, "INVALID_REQUEST", false,
     "This most likely occurs because of a request being malformed by the client library or the "
     "message was sent to an incompatible broker. See the broker logs for more details."},
    {error_code::unsupported_for_message_format, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false,
     "The message format version on the broker does not support the request."},
    {error_code::policy_violation, "POLICY_VIOLATION", false,
     "Request parameters do not satisfy the configured policy."},
    {error_code::out_of_order_sequence_number, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
     "The broker received an out of order sequence number."},
    {error_code::duplicate_sequence_number, "DUPLICATE_SEQUENCE_NUMBER", false,
     "The broker received a duplicate sequence number."},
    {error_code::invalid_producer_epoch, "INVALID_PRODUCER_EPOCH", false,
     "Producer attempted to produce with an old epoch."},
    {error_code::invalid_txn_state, "INVALID_TXN_STATE", false,
     "The producer attempted a transactional operation in an invalid state."},
    {error_code::invalid_producer_id_mapping, "INVALID_PRODUCER_ID_MAPPING", false,
     "The producer attempted to use a producer id which is not currently assigned to its "
     "transactional id."},
    {error_code::invalid_transaction_timeout, "INVALID_TRANSACTION_TIMEOUT", false,
     "The transaction timeout is larger than the maximum value allowed by the broker (as "
     "configured by transaction.max.timeout.ms)."},
    {error_code::concurrent_transactions, "CONCURRENT_TRANSACTIONS", true,
     "The producer attempted to update a transaction while another concurrent operation on the "
     "same transaction was ongoing."},
    {error_code::transaction_coordinator_fenced, "TRANSACTION_COORDINATOR_FENCED", false,
     "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current "
     "coordinator for a given producer."},
    {error_code::transactional_id_authorization_failed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
     false, "Transactional Id authorization failed."},
    {error_code::security_disabled, "SECURITY_DISABLED", false, "Security features are disabled."},
    {error_code::operation_not_attempted, "OPERATION_NOT_ATTEMPTED", false,
     "The broker did not attempt to execute this operation. This may happen for batched RPCs where "
     "some operations in the batch failed, causing the broker to respond without trying the rest."},
    {error_code::kafka_storage_error, "KAFKA_STORAGE_ERROR", true,
     "Disk error when trying to access log file on the disk."},
    {error_code::log_dir_not_found, "LOG_DIR_NOT_FOUND", false,
     "The user-specified log directory is not found in the broker config."},
    {error_code::sasl_authentication_failed, "SASL_AUTHENTICATION_FAILED", false,
     "SASL Authentication failed."},
    {error_code::unknown_producer_id, "UNKNOWN_PRODUCER_ID", false,
     "This exception is raised by the broker if it could not locate the producer metadata "
     "associated with the producerId in question. This could happen if, for instance, the "
     "producer's records were deleted because their retention time had elapsed. Once the last "
     "records of the producerId are removed, the producer's metadata is removed from the broker, "
     "and future appends by the producer will return this exception."},
    {error_code::reassignment_in_progress, "REASSIGNMENT_IN_PROGRESS", false,
     "A partition reassignment is in progress."},
    {error_code::delegation_token_auth_disabled, "DELEGATION_TOKEN_AUTH_DISABLED", false,
     "Delegation Token feature is not enabled."},
    {error_code::delegation_token_not_found, "DELEGATION_TOKEN_NOT_FOUND", false,
     "Delegation Token is not found on server."},
    {error_code::delegation_token_owner_mismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", false,
     "Specified Principal is not valid Owner/Renewer."},
    {error_code::delegation_token_request_not_allowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
     false,
     "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation "
     "token authenticated channels."},
    {error_code::delegation_token_authorization_failed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
     false, "Delegation Token authorization failed."},
    {error_code::delegation_token_expired, "DELEGATION_TOKEN_EXPIRED", false,
     "Delegation Token is expired."},
    {error_code::invalid_principal_type, "INVALID_PRINCIPAL_TYPE", false,
     "Supplied principalType is not supported."},
    {error_code::non_empty_group, "NON_EMPTY_GROUP", false, "The group is not empty."},
    {error_code::group_id_not_found, "GROUP_ID_NOT_FOUND", false, "The group id does not exist."},
    {error_code::fetch_session_id_not_found, "FETCH_SESSION_ID_NOT_FOUND", true,
     "The fetch session ID was not found."},
    {error_code::invalid_fetch_session_epoch, "INVALID_FETCH_SESSION_EPOCH", true,
     "The fetch session epoch is invalid."},
    {error_code::listener_not_found, "LISTENER_NOT_FOUND", true,
     "There is no listener on the leader broker that matches the listener on which metadata "
     "request was processed."},
    {error_code::topic_deletion_disabled, "TOPIC_DELETION_DISABLED", false,
     "Topic deletion is disabled."},
    {error_code::fenced_leader_epoch, "FENCED_LEADER_EPOCH", true,
     "The leader epoch in the request is older than the epoch on the broker."},
    {error_code::unknown_leader_epoch, "UNKNOWN_LEADER_EPOCH", true,
     "The leader epoch in the request is newer than the epoch on the broker."},
    {error_code::unsupported_compression_type, "UNSUPPORTED_COMPRESSION_TYPE", false,
     "The requesting client does not support the compression type of given partition."},
    {error_code::stale_broker_epoch, "STALE_BROKER_EPOCH", false, "Broker epoch has changed."},
    {error_code::offset_not_available, "OFFSET_NOT_AVAILABLE", true,
     "The leader high watermark has not caught up from a recent leader election so the offsets "
     "cannot be guaranteed to be monotonically increasing."},
    {error_code::member_id_required, "MEMBER_ID_REQUIRED", false,
     "The group member needs to have a valid member id before actually entering a consumer group."},
    {error_code::preferred_leader_not_available, "PREFERRED_LEADER_NOT_AVAILABLE", true,
     "The preferred leader was not available."},
    {error_code::group_max_size_reached, "GROUP_MAX_SIZE_REACHED", false,
     "The consumer group has reached its max size."},
    {error_code::fenced_instance_id, "FENCED_INSTANCE_ID", false,
     "The broker rejected this static consumer since another consumer with the same "
     "group.instance.id has registered with a different member.id."},
    {error_code::eligible_leaders_not_available, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true,
     "Eligible topic partition leaders are not available."},
    {error_code::election_not_needed, "ELECTION_NOT_NEEDED", true,
     "Leader election not needed for topic partition."},
    {error_code::no_reassignment_in_progress, "NO_REASSIGNMENT_IN_PROGRESS", false,
     "No partition reassignment is in progress."},
    {error_code::group_subscribed_to_topic, "GROUP_SUBSCRIBED_TO_TOPIC", false,
     "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to "
     "it."},
    {error_code::invalid_record, "INVALID_RECORD", false,
     "This record has failed the validation on broker and hence will be rejected."},
    {error_code::unstable_offset_commit, "UNSTABLE_OFFSET_COMMIT", true,
     "There are unstable offsets that need to be cleared."},
    {error_code::throttling_quota_exceeded, "THROTTLING_QUOTA_EXCEEDED", true,
     "The throttling quota has been exceeded."},
    {error_code::producer_fenced, "PRODUCER_FENCED", false,
     "There is a newer producer with the same transactionalId which fences the current one."},
    {error_code::resource_not_found, "RESOURCE_NOT_FOUND", false,
     "A request illegally referred to a resource that does not exist."},
    {error_code::duplicate_resource, "DUPLICATE_RESOURCE", false,
     "A request illegally referred to the same resource twice."},
    {error_code::unacceptable_credential, "UNACCEPTABLE_CREDENTIAL", false,
     "Requested credential would not meet criteria for acceptability."},
    {error_code::inconsistent_voter_set, "INCONSISTENT_VOTER_SET", false,
     "Indicates that the either the sender or recipient of a voter-only request is not one of the "
     "expected voters."},
    {error_code::invalid_update_version, "INVALID_UPDATE_VERSION", false,
     "The given update version was invalid."},
    {error_code::feature_update_failed, "FEATURE_UPDATE_FAILED", false,
     "Unable to update finalized features due to an unexpected server error."},
    {error_code::principal_deserialization_failure, "PRINCIPAL_DESERIALIZATION_FAILURE", false,
     "Request principal deserialization failed during forwarding. This indicates an internal error "
     "on the broker cluster security setup."},
    {error_code::snapshot_not_found, "SNAPSHOT_NOT_FOUND", false,
     "Requested snapshot was not found."},
    {error_code::position_out_of_range, "POSITION_OUT_OF_RANGE", false,
     "Requested position is not greater than or equal to zero, and less than the size of the "
     "snapshot."},
    {error_code::unknown_topic_id, "UNKNOWN_TOPIC_ID", true,
     "This server does not host this topic ID."},
    {error_code::duplicate_broker_registration, "DUPLICATE_BROKER_REGISTRATION", false,
     "This broker ID is already in use."},
    {error_code::broker_id_not_registered, "BROKER_ID_NOT_REGISTERED", false,
     "The given broker ID was not registered."},
    {error_code::inconsistent_topic_id, "INCONSISTENT_TOPIC_ID", true,
     "The log's topic ID did not match the topic ID in the request."},
    {error_code::inconsistent_cluster_id, "INCONSISTENT_CLUSTER_ID", false,
     "The clusterId in the request does not match that found on the server."},
    {error_code::transactional_id_not_found, "TRANSACTIONAL_ID_NOT_FOUND", false,
     "The transactionalId could not be found."},
    {error_code::fetch_session_topic_id_error, "FETCH_SESSION_TOPIC_ID_ERROR", true,
     "The fetch session encountered inconsistent topic ID usage."},
    {error_code::ineligible_replica, "INELIGIBLE_REPLICA", false,
     "The new ISR contains at least one ineligible replica."},
    {error_code::new_leader_elected, "NEW_LEADER_ELECTED", false,
     "The AlterPartition request successfully updated the partition state but the leader has "
     "changed."},
    {error_code::offset_moved_to_tiered_storage, "OFFSET_MOVED_TO_TIERED_STORAGE", false,
     "The requested offset is moved to tiered storage."},
    {error_code::fenced_member_epoch, "FENCED_MEMBER_EPOCH", false,
     "The member epoch is fenced by the group coordinator. The member must abandon all its "
     "partitions and rejoin."},
    {error_code::unreleased_instance_id, "UNRELEASED_INSTANCE_ID", false,
     "The instance ID is still used by another member in the consumer group. That member must "
     "leave first."},
    {error_code::unsupported_assignor, "UNSUPPORTED_ASSIGNOR", false,
     "The assignor or its version range is not supported by the consumer group."},
    {error_code::stale_member_epoch, "STALE_MEMBER_EPOCH", false,
     "The member epoch is stale. The member must retry after receiving its updated member epoch "
     "via the ConsumerGroupHeartbeat API."},
    {error_code::mismatched_endpoint_type, "MISMATCHED_ENDPOINT_TYPE", false,
     "The request was sent to an endpoint of the wrong type."},
    {error_code::unsupported_endpoint_type, "UNSUPPORTED_ENDPOINT_TYPE", false,
     "This endpoint type is not supported yet."},
    {error_code::unknown_controller_id, "UNKNOWN_CONTROLLER_ID", false,
     "This controller ID is not known."},
    {error_code::unknown_subscription_id, "UNKNOWN_SUBSCRIPTION_ID", false,
     "Client sent a push telemetry request with an invalid or outdated subscription ID."},
    {error_code::telemetry_too_large, "TELEMETRY_TOO_LARGE", false,
     "Client sent a push telemetry request larger than the maximum size the broker will accept."},
    {error_code::invalid_registration, "INVALID_REGISTRATION", false,
     "The controller has considered the broker registration to be invalid."},
    {error_code::transaction_abortable, "TRANSACTION_ABORTABLE", false,
     "The server encountered an error with the transaction. The client can abort the transaction "
     "to continue using this transactional ID."},
    {error_code::invalid_record_state, "INVALID_RECORD_STATE", false,
     "The record state is invalid. The acknowledgement of delivery could not be completed."},
    {error_code::share_session_not_found, "SHARE_SESSION_NOT_FOUND", true,
     "The share session was not found."},
    {error_code::invalid_share_session_epoch, "INVALID_SHARE_SESSION_EPOCH", true,
     "The share session epoch is invalid."},
    {error_code::fenced_state_epoch, "FENCED_STATE_EPOCH", false,
     "The share coordinator rejected the request because the share-group state epoch did not "
     "match."},
    {error_code::invalid_voter_key, "INVALID_VOTER_KEY", false,
     "The voter key doesn't match the receiving replica's key."},
    {error_code::duplicate_voter, "DUPLICATE_VOTER", false,
     "The voter is already part of the set of voters."},
    {error_code::voter_not_found, "VOTER_NOT_FOUND", false,
     "The voter is not part of the set of voters."},
});

constexpr int first_code = -1;

constexpr bool dense_and_ordered() {
  for (size_t i = 0; i < errors.size(); ++i)
    if (static_cast<int>(errors[i].code) != first_code + static_cast<int>(i)) return false;
  return true;
}
static_assert(dense_and_ordered(), "errors[] must list every code in order, from -1 up");

const error_info* find(int code) {
  if (code < first_code || code - first_code >= static_cast<int>(errors.size())) return nullptr;
  return &errors[static_cast<size_t>(code - first_code)];
}

const error_info* find(error_code code) { return find(static_cast<int>(code)); }

}  // namespace

std::string_view error_name(error_code code) {
  const error_info* info = find(code);
  return info != nullptr ? info->name : "UNKNOWN_ERROR_CODE";
}

std::string_view error_message(error_code code) {
  const error_info* info = find(code);
  return info != nullptr ? info->message : std::string_view();
}

bool is_retriable(error_code code) {
  const error_info* info = find(code);
  return info != nullptr && info->retriable;
}

bool is_known(int16_t code) { return find(code) != nullptr; }

}  // namespace sluice::protocol
