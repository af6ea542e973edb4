"""The Arc agent API as a GraphQL schema (graphql-core), for serving the Arc protocol.

The types follow eclipse-lmos/arc's `arc-api` (AgentRequest, AgentResult, Message,
AgentResultType). `systemContext` and `userContext` are optional here, as Arc's own Kotlin
defaults make them. The runtime's `/subscriptions` server validates every subscription
against this schema and executes it, so that an answer holds exactly the selected fields.
"""

from __future__ import annotations

from functools import cache

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationType, build_schema, parse, validate

ARC_SDL = """
type Query {
  agent: AgentQueryResult
}

type AgentQueryResult {
  names: [String!]!
}

type Subscription {
  "Runs the agent on one request and streams its results."
  agent(agentName: String, request: AgentRequestInput!): AgentResult!
}

enum AgentResultType {
  MESSAGE
  INTERMEDIATE_MESSAGE
  EVENT
  ERROR
}

type AgentResult {
  status: String
  type: AgentResultType
  responseTime: Float!
  messages: [Message!]!
  anonymizationEntities: [AnonymizationEntity!]
  context: [ContextEntry!]
  toolCalls: [ToolCall!]
}

type Message {
  role: String!
  content: String!
  format: String!
  turnId: String
  binaryData: [BinaryData!]
}

type BinaryData {
  mimeType: String!
  dataAsBase64: String
  source: String
}

type AnonymizationEntity {
  type: String!
  value: String!
  replacement: String!
}

type ContextEntry {
  key: String!
  value: String!
}

type ToolCall {
  name: String!
  arguments: String!
}

input AgentRequestInput {
  messages: [MessageInput!]!
  conversationContext: ConversationContextInput!
  systemContext: [SystemContextEntryInput!]
  userContext: UserContextInput
}

input MessageInput {
  role: String!
  content: String!
  format: String
  turnId: String
  binaryData: [BinaryDataInput!]
}

input BinaryDataInput {
  mimeType: String!
  dataAsBase64: String
  source: String
}

input ConversationContextInput {
  conversationId: String!
  turnId: String
  anonymizationEntities: [AnonymizationEntityInput!]
}

input AnonymizationEntityInput {
  type: String!
  value: String!
  replacement: String!
}

input SystemContextEntryInput {
  key: String!
  value: String!
}

input UserContextInput {
  userId: String
  userToken: String
  profile: [ProfileEntryInput!]
}

input ProfileEntryInput {
  key: String!
  value: String!
}
"""


@cache
def arc_schema() -> GraphQLSchema:
    return build_schema(ARC_SDL)


def subscription_document(query: object, operation_name: object = None) -> DocumentNode:
    """Parse and validate one `subscribe` payload's query against the Arc schema.

    Raises a list of GraphQLError (in a GraphQLErrors) naming every problem: a query that
    does not parse, an unknown field, a wrong argument, or an operation that is not a
    subscription.
    """
    if not isinstance(query, str) or not query.strip():
        raise GraphQLErrors([GraphQLError("The subscribe payload needs a query (a GraphQL subscription)")])
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise GraphQLErrors([exc]) from None
    problems = validate(arc_schema(), document)
    if problems:
        raise GraphQLErrors(problems)
    operations = [d for d in document.definitions if getattr(d, "operation", None) is not None]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1:
        raise GraphQLErrors([GraphQLError("Name exactly one operation (operationName) of the query")])
    if chosen[0].operation != OperationType.SUBSCRIPTION:
        raise GraphQLErrors([GraphQLError("Only the agent subscription is served here")])
    return document


class GraphQLErrors(Exception):
    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
