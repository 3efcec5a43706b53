"""Reading a DynamoDB stream with the blog's four IAM actions, and the Lambda record shape."""
