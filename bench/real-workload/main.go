package main

import (
	_ "cloud.google.com/go/storage"
	_ "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.opentelemetry.io/otel"
	_ "google.golang.org/api/compute/v1"
	_ "google.golang.org/grpc"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "github.com/spf13/cobra"
	_ "go.uber.org/zap"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/gin-gonic/gin"
	_ "cloud.google.com/go/bigquery"
	_ "cloud.google.com/go/pubsub"
	_ "github.com/IBM/sarama"
	_ "github.com/docker/docker/api/types/container"
	_ "github.com/elastic/go-elasticsearch/v8"
	_ "github.com/hashicorp/vault/api"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/nats-io/nats.go"
	_ "github.com/stretchr/testify/assert"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.mongodb.org/mongo-driver/mongo"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {}
