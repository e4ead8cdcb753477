package main
import (
 _ "github.com/spf13/cobra"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/fsnotify/fsnotify"
)
func main(){}
